import type { Logger } from '../../common/log.ts';
import { Gauge, type Registry } from '../../common/prom.ts';
import { formatFinding, type ProxylessFinding, proxylessFindings } from '../generators/index.ts';
import type { Snapshot } from '../model/snapshot.ts';

const EFFECTS: readonly ProxylessFinding['effect'][] = ['ignored', 'not-sent', 'approximated', 'nacked'];

/**
 * Reports what proxyless gRPC clients cannot honour (generator-proxyless-findings.ts), per
 * snapshot: each finding is logged at warn level when it first appears, the gauge
 * `meshfed_pilot_proxyless_findings{effect}` counts the current ones, and `current()` lists them
 * (Pilot's `/debug/configz`). `update` is called with every snapshot Pilot builds.
 */
export interface ProxylessFindingsReport {
  update(snap: Snapshot): void;
  current(): string[];
}

export function proxylessFindingsReport(registry: Registry, logger: Logger): ProxylessFindingsReport {
  let findings: ProxylessFinding[] = [];
  let seen = new Set<string>();
  new Gauge({
    name: 'meshfed_pilot_proxyless_findings',
    help: 'Configuration fields that proxyless gRPC clients ignore, do not get, get approximated, or NACK.',
    labelNames: ['effect'],
    registers: [registry],
    collect() {
      for (const effect of EFFECTS) this.set({ effect }, findings.filter((f) => f.effect === effect).length);
    },
  });
  return {
    update(snap) {
      findings = proxylessFindings(snap);
      const now = new Set(findings.map(formatFinding));
      for (const text of now) if (!seen.has(text)) logger.warn({ version: snap.version }, text);
      seen = now;
    },
    current: () => [...seen],
  };
}

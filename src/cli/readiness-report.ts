/**
 * What a component's `/ready` answers, the way istiod's readiness reflects its real state: every
 * check by name, `true` when it passes, else the reason it fails. The monitoring server answers 200
 * when every check passes and 503 otherwise, with the same body either way:
 * `{ "ready": boolean, "checks": { "<name>": true | "<reason>" } }`.
 */
import { z } from 'zod';
import type { FederationHandle } from '../federation/index.ts';
import { errorMessage } from '../common/errors.ts';

/** One readiness check: `true` when it passes, else why it fails. Polled on every `/ready`. */
export type ReadinessCheck = () => true | string;

/** The body of `/ready`. */
export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, true | string>;
}

/** Runs every check (a throwing check fails with its message) and says whether all passed. */
export function readinessReport(checks: Readonly<Record<string, ReadinessCheck>>): ReadinessReport {
  const results: Record<string, true | string> = {};
  for (const [name, check] of Object.entries(checks)) {
    try {
      results[name] = check();
    } catch (e: unknown) {
      results[name] = `check failed: ${errorMessage(e)}`;
    }
  }
  return { ready: Object.values(results).every((r) => r === true), checks: results };
}

const reportSchema = z.object({
  ready: z.boolean(),
  checks: z.record(z.string(), z.union([z.literal(true), z.string()])),
});

/**
 * The failing checks of a `/ready` body, as `name: reason; …` for `meshfed status`; undefined when
 * the body is not a readiness report (an older component) or nothing fails.
 */
export function readinessFailures(body: string): string | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return undefined;
  }
  const parsed = reportSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const failing = Object.entries(parsed.data.checks).flatMap(([name, r]) => (r === true ? [] : [`${name}: ${r}`]));
  return failing.length > 0 ? failing.join('; ') : undefined;
}

/**
 * `ca`: the 15012 serving certificate (issued at startup) is unexpired and, when the process
 * signs workloads (`signer`: Citadel hosted), so is its intermediate. `now` is read per probe.
 */
export function certificateCheck(opts: {
  serving: { notAfter: Date };
  signer?: { validTo: string };
  now?: () => Date;
}): ReadinessCheck {
  const now = opts.now ?? (() => new Date());
  return () => {
    const t = now().getTime();
    const { notAfter } = opts.serving;
    if (notAfter.getTime() <= t) return `serving certificate expired at ${notAfter.toISOString()}`;
    if (opts.signer) {
      const validTo = new Date(opts.signer.validTo);
      if (!(validTo.getTime() > t)) return `intermediate CA certificate expired at ${opts.signer.validTo}`;
    }
    return true;
  };
}

/**
 * `federation`: the hosted controller has completed its first full sync. Reads the handle per
 * probe, since the controller starts after the monitoring port opens.
 */
export function federationCheck(handle: () => Pick<FederationHandle, 'firstSync'> | undefined): ReadinessCheck {
  return () => {
    const h = handle();
    if (!h) return 'federation controller not started';
    const s = h.firstSync();
    return s.done ? true : s.reason;
  };
}

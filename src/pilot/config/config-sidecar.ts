import type { SidecarEgressListener, SidecarSpec } from './config-types.ts';
import type { SidecarSpecDoc } from './config-schema-sidecar.ts';

/** What a Sidecar without egress listeners imports, as in Istio: every host of every namespace. */
const IMPORT_ALL: readonly SidecarEgressListener[] = [{ hosts: [{ namespace: '*', dnsName: '*' }] }];

/**
 * A validated Sidecar spec → its normalized form (config-types.ts `SidecarSpec`): hosts split at
 * their `/`, duplicates dropped; no egress → import everything. Pure.
 */
export function toSidecarSpec(s: SidecarSpecDoc): SidecarSpec {
  const egress: SidecarEgressListener[] = (s.egress ?? []).map((l) => {
    const hosts = [...new Set(l.hosts)].map((h) => {
      const slash = h.indexOf('/');
      return { namespace: h.slice(0, slash), dnsName: h.slice(slash + 1) };
    });
    return l.port !== undefined ? { port: l.port.number, hosts } : { hosts };
  });
  return {
    ...(s.workloadSelector ? { workloadSelector: { labels: { ...s.workloadSelector.labels } } } : {}),
    egress: egress.length > 0 ? egress : IMPORT_ALL,
    ...(s.outboundTrafficPolicy?.mode !== undefined ? { outboundTrafficPolicy: s.outboundTrafficPolicy.mode } : {}),
  };
}

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { HeaderOpsConfig } from '../../xds/config-types.ts';

/**
 * Applies Envoy header edits in place: removals, then `set` (replaces), then `add` (appends a
 * value). Levels apply most specific first (weighted cluster, then route), so a route-level `set`
 * has the last word, as in Envoy.
 */
export function applyHeaderOps(headers: IncomingHttpHeaders | OutgoingHttpHeaders, ...levels: (HeaderOpsConfig | undefined)[]): void {
  for (const ops of levels) {
    if (!ops) continue;
    for (const name of ops.remove) delete headers[name];
    for (const [name, value] of ops.set) headers[name] = value;
    for (const [name, value] of ops.add) {
      const prev = headers[name];
      if (prev === undefined) headers[name] = value;
      else if (Array.isArray(prev)) headers[name] = [...prev.map(String), value];
      else headers[name] = [String(prev), value];
    }
  }
}

import { generate } from '../../src/pilot/generators/index.ts';
import type { Snapshot } from '../../src/pilot/model/index.ts';
import type { ProxyConfig } from '../../src/xds/config-types.ts';
import type { ProxyNode } from '../../src/xds/node.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { validateCluster, validateClusterLoadAssignment, validateListener, validateRouteConfiguration } from '../../src/xds/index.ts';
import { decoded } from '../xds/support/decode.ts';

/**
 * What a proxy would hold after an ADS exchange with Pilot, without the stream: each resource
 * Pilot generates for `proxy` goes through the wire encoding and the proxy's validators. A
 * resource the validators refuse throws (a NACK would be a bug in the generator under test).
 */
export function pilotConfig(proxy: ProxyNode, snap: Snapshot, version = '1'): ProxyConfig {
  const take = <T>(typeUrl: (typeof TYPE_URL)[keyof typeof TYPE_URL], validate: (r: unknown) => { ok: true; value: T } | { ok: false; errors: string[] }): T[] =>
    generate(proxy, typeUrl, snap).map((r) => {
      const v = validate(decoded(r.resource));
      if (!v.ok) throw new Error(`${r.name} NACKed: ${v.errors.join('; ')}`);
      return v.value;
    });
  return {
    listeners: new Map(take(TYPE_URL.listener, validateListener).map((l) => [l.name, l])),
    routes: new Map(take(TYPE_URL.route, validateRouteConfiguration).map((r) => [r.name, r])),
    clusters: new Map(take(TYPE_URL.cluster, validateCluster).map((c) => [c.name, c])),
    endpoints: new Map(take(TYPE_URL.endpoint, validateClusterLoadAssignment).map((e) => [e.clusterName, e])),
    versions: { listener: version, route: version, cluster: version, endpoint: version },
  };
}

import type { ProxyNode } from '../../xds/node.ts';
import type { XdsResource } from '../../xds/resources.ts';
import { TYPE_URL, type XdsTypeUrl } from '../../xds/type-urls.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { generateClusters } from './generator-clusters.ts';
import { generateEndpoints } from './generator-endpoints.ts';
import { generateListeners } from './generator-listeners.ts';
import { generateRoutes } from './generator-routes.ts';

/**
 * Every resource of `typeUrl` for `proxy`, over one snapshot. Pure; the ADS server filters by the
 * names a stream subscribed to. Each resource's `@type` equals `typeUrl`.
 */
export function generate(proxy: ProxyNode, typeUrl: XdsTypeUrl, snap: Snapshot): XdsResource[] {
  switch (typeUrl) {
    case TYPE_URL.cluster:
      return generateClusters(proxy, snap);
    case TYPE_URL.endpoint:
      return generateEndpoints(proxy, snap);
    case TYPE_URL.listener:
      return generateListeners(proxy, snap);
    case TYPE_URL.route:
      return generateRoutes(proxy, snap);
    default:
      // Unknown type URLs (a caller passing an unvalidated string) have no resources.
      return [];
  }
}

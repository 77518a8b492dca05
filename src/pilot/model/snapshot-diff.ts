import type { EndpointModel, LocalEndpoint, Snapshot } from './snapshot.ts';
import { exportedHostnames, hasMeshEndpoints } from './snapshot-queries.ts';

/**
 * What changed between two snapshots, in the terms a push needs.
 * - `none`: nothing any generator reads.
 * - `endpoints`: only endpoint sets changed, in ways that only EDS shows, except for the proxies of
 *   `workloads` (workloads whose own endpoints changed: their inbound clusters and listeners).
 * - `full`: services, configuration, or something CDS/LDS/RDS derive from endpoints changed.
 */
export interface SnapshotChange {
  readonly scope: 'none' | 'endpoints' | 'full';
  /** Hostnames whose endpoint lists differ (every one, whatever the scope). */
  readonly hostnames: ReadonlySet<string>;
  /** `workloadKey`s whose own local endpoints differ. */
  readonly workloads: ReadonlySet<string>;
}

function endpointKey(e: EndpointModel): string {
  const where = e.kind === 'local' ? `${e.address} ${e.sidecar} ${e.targetPort ?? ''} ${e.weight ?? ''}` : `${e.gateway.address}:${e.gateway.port} ${e.endpointId ?? ''}`;
  return JSON.stringify([e.kind, e.port, e.registry, e.cluster, e.namespace, e.workload, e.serviceAccount, where, e.labels]);
}

function listKey(list: readonly EndpointModel[] | undefined): string {
  return (list ?? []).map(endpointKey).join('\n');
}

function changedKeys<V>(a: ReadonlyMap<string, V>, b: ReadonlyMap<string, V>, same: (x: V | undefined, y: V | undefined) => boolean): Set<string> {
  // a's keys in order, then b's own: the order the union of both key lists gives, without building it.
  const out = new Set<string>();
  // One map object (buildSnapshot reuses unchanged ones): nothing changed.
  if (a === b) return out;
  for (const [k, v] of a) if (!same(v, b.get(k))) out.add(k);
  for (const [k, v] of b) if (!a.has(k) && !same(undefined, v)) out.add(k);
  return out;
}

const sameJson = (x: unknown, y: unknown): boolean => x === y || JSON.stringify(x) === JSON.stringify(y);

/**
 * The gateway's backends: per exported hostname, each local sidecar'd endpoint of this cluster
 * (port, identity, labels). The gateway's SNIs (router CDS and LDS) are made of them besides the
 * exports: one service SNI per port and subset, one endpoint-qualified SNI per endpoint and subset
 * it belongs to, so a new or removed replica, or a label change, is a full push for the gateway.
 */
function gatewayBackends(snap: Snapshot): string {
  const out: string[] = [];
  for (const h of exportedHostnames(snap)) {
    for (const e of snap.endpoints.get(h) ?? []) {
      if (e.kind !== 'local' || !e.sidecar || e.cluster !== snap.cluster) continue;
      out.push(JSON.stringify([h, e.port, e.namespace, e.workload, e.labels]));
    }
  }
  return out.sort().join('\n');
}

/**
 * Classifies the change from `prev` to `next`. Pure. It knows what the non-EDS generators read from
 * endpoints (mesh mTLS per service, the gateway's SNIs, a proxy's own workload); a generator that
 * starts reading more must be reflected here (test/pilot/snapshot-diff.test.ts checks that an
 * `endpoints` change leaves CDS, LDS and RDS as they were).
 */
export function diffSnapshots(prev: Snapshot, next: Snapshot): SnapshotChange {
  const hostnames = changedKeys(prev.endpoints, next.endpoints, (x, y) => x === y || listKey(x) === listKey(y));
  const workloads = changedKeys<readonly LocalEndpoint[]>(prev.workloads, next.workloads, (x, y) => x === y || listKey(x) === listKey(y));
  const full =
    prev.cluster !== next.cluster ||
    prev.trustDomain !== next.trustDomain ||
    !sameJson(prev.mesh, next.mesh) ||
    // AuthorizationPolicies are the inbound chains' RBAC filters (LDS).
    !sameJson(prev.authorizationPolicies, next.authorizationPolicies) ||
    // RequestAuthentications and their fetched key sets are the inbound chains' JWT filters (LDS).
    !sameJson(prev.requestAuthentications, next.requestAuthentications) ||
    !sameJson([...prev.jwks], [...next.jwks]) ||
    prev.domainSuffix !== next.domainSuffix ||
    prev.gatewayAddress !== next.gatewayAddress ||
    changedKeys(prev.services, next.services, sameJson).size > 0 ||
    changedKeys(prev.virtualServices, next.virtualServices, sameJson).size > 0 ||
    changedKeys(prev.destinationRules, next.destinationRules, sameJson).size > 0 ||
    !sameJson(prev.allVirtualServices, next.allVirtualServices) ||
    !sameJson(prev.allDestinationRules, next.allDestinationRules) ||
    // A Sidecar changes what its proxies see (CDS, EDS, RDS, proxyless LDS): every generator.
    !sameJson(prev.sidecars, next.sidecars) ||
    // A PeerAuthentication changes inbound chains (LDS) and auto-mTLS of clients (CDS).
    !sameJson(prev.peerAuthentications, next.peerAuthentications) ||
    !sameJson([...prev.exported], [...next.exported]) ||
    [...hostnames].some((h) => hasMeshEndpoints(prev, h) !== hasMeshEndpoints(next, h)) ||
    (hostnames.size > 0 && gatewayBackends(prev) !== gatewayBackends(next));
  const scope = full ? 'full' : hostnames.size > 0 || workloads.size > 0 ? 'endpoints' : 'none';
  return { scope, hostnames, workloads };
}

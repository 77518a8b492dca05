import { generate } from '../../../src/pilot/generators/index.ts';
import type { Snapshot } from '../../../src/pilot/model/index.ts';
import type { ProxyNode } from '../../../src/xds/node.ts';
import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration } from '../../../src/xds/resources.ts';
import type { JsonValue } from '../../../src/xds/struct.ts';
import { TYPE_URL } from '../../../src/xds/type-urls.ts';
import { SnapshotBuilder } from './snapshot-builder.ts';

/** Config of the rich fixture: subsets (incl. a cluster subset), a VirtualService, exports. */
export const RICH_CONFIG = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: west, labels: {topology.istio.io/cluster: west}}
  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - name: jason
    match:
    - uri: {exact: /reviews/0}
      headers: {end-user: {exact: jason}}
    - uri: {prefix: /admin}
    route: [{destination: {host: reviews, subset: v2}}]
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 20
    - destination: {host: reviews}
      weight: 80
    timeout: 1500ms
    retries: {attempts: 2, retryOn: 5xx, retryRemoteLocalities: true}
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: {name: reviews}
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: {name: details}
`;

/**
 * Cluster `east` (gateway 127.0.2.1): productpage (sidecar), reviews-v1 (sidecar), details (no
 * sidecar, exported but therefore not reachable through the gateway), grpc echo on two ports
 * (no sidecar). Imported from `west` (gateway 10.1.0.1): reviews-v2 ×2, reviews-v3, ratings-v1.
 */
export function richSnapshot(): Snapshot {
  return new SnapshotBuilder({ cluster: 'east', gatewayAddress: '127.0.2.1' })
    .workload('productpage-v1', 'productpage', 9080)
    .workload('reviews-v1', 'reviews', 9080, { labels: { app: 'reviews', version: 'v1' } })
    .workload('details-v1', 'details', 9080, { sidecar: false })
    .workload('echo-a', 'echo', 50051, { sidecar: false, protocol: 'grpc' })
    .workload('echo-b', 'echo', 50052, { sidecar: false, protocol: 'grpc' })
    .imported('west', '10.1.0.1', 'reviews-v2a', 'reviews', 9080, { version: 'v2' })
    .imported('west', '10.1.0.1', 'reviews-v2b', 'reviews', 9080, { version: 'v2' })
    .imported('west', '10.1.0.1', 'reviews-v3', 'reviews', 9080, { version: 'v3' })
    .imported('west', '10.1.0.1', 'ratings-v1', 'ratings', 9080)
    .yaml(RICH_CONFIG)
    .build();
}

/**
 * Config that restricts `exportTo`: a ServiceEntry seen only in `other`, a VirtualService for
 * reviews exported only to `default` (its own namespace), a DestinationRule only to `other`.
 */
export const EXPORT_TO_CONFIG = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin, namespace: other}
spec:
  hosts: [httpbin.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.9.1}, {address: 127.0.9.2, ports: {http: 8080}, weight: 2}]
  exportTo: ["."]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-local}
spec:
  hosts: [reviews]
  exportTo: ["."]
  http: [{route: [{destination: {host: reviews, subset: v1}}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: other}
spec:
  host: ratings.default.svc.cluster.local
  exportTo: ["."]
  subsets: [{name: v1, labels: {version: v1}}]
`;

/** The rich fixture's workloads with `EXPORT_TO_CONFIG`: what proxies see differs by namespace. */
export function exportToSnapshot(): Snapshot {
  return new SnapshotBuilder({ cluster: 'east', gatewayAddress: '127.0.2.1' })
    .workload('productpage-v1', 'productpage', 9080)
    .workload('reviews-v1', 'reviews', 9080, { labels: { app: 'reviews', version: 'v1' } })
    .imported('west', '10.1.0.1', 'ratings-v1', 'ratings', 9080)
    .yaml(EXPORT_TO_CONFIG)
    .build();
}

export function clustersOf(proxy: ProxyNode, snap: Snapshot): Map<string, Cluster> {
  const out = new Map<string, Cluster>();
  for (const r of generate(proxy, TYPE_URL.cluster, snap)) if (r.resource['@type'] === TYPE_URL.cluster) out.set(r.name, r.resource);
  return out;
}

export function endpointsOf(proxy: ProxyNode, snap: Snapshot): Map<string, ClusterLoadAssignment> {
  const out = new Map<string, ClusterLoadAssignment>();
  for (const r of generate(proxy, TYPE_URL.endpoint, snap)) if (r.resource['@type'] === TYPE_URL.endpoint) out.set(r.name, r.resource);
  return out;
}

export function listenersOf(proxy: ProxyNode, snap: Snapshot): Map<string, Listener> {
  const out = new Map<string, Listener>();
  for (const r of generate(proxy, TYPE_URL.listener, snap)) if (r.resource['@type'] === TYPE_URL.listener) out.set(r.name, r.resource);
  return out;
}

export function routesOf(proxy: ProxyNode, snap: Snapshot): Map<string, RouteConfiguration> {
  const out = new Map<string, RouteConfiguration>();
  for (const r of generate(proxy, TYPE_URL.route, snap)) if (r.resource['@type'] === TYPE_URL.route) out.set(r.name, r.resource);
  return out;
}

/** A CLA flattened to `[zone, localityWeight, address:port, weight, health, metadata as JSON]` rows. */
export function endpointRows(cla: ClusterLoadAssignment | undefined): [string, number, string, number, string, Record<string, JsonValue>][] {
  return (cla?.endpoints ?? []).flatMap((l) =>
    l.lb_endpoints.map((e): [string, number, string, number, string, Record<string, JsonValue>] => [
      l.locality?.zone ?? '',
      l.load_balancing_weight.value,
      `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`,
      e.load_balancing_weight?.value ?? 0,
      e.health_status ?? '',
      Object.fromEntries(Object.entries(e.metadata?.filter_metadata ?? {}).map(([k, v]) => [k, wireStructToJson(v)])),
    ]),
  );
}

/** Reads a Struct in wire form (camelCase value names, as protobufjs encodes and decodes it). */
export function wireStructToJson(s: unknown): Record<string, JsonValue> {
  const fields = typeof s === 'object' && s !== null && 'fields' in s ? (s as { fields: unknown }).fields : {};
  const out: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(typeof fields === 'object' && fields !== null ? fields : {})) out[k] = wireValueToJson(v);
  return out;
}

function wireValueToJson(v: unknown): JsonValue {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (typeof o['stringValue'] === 'string') return o['stringValue'];
  if (typeof o['numberValue'] === 'number') return o['numberValue'];
  if (typeof o['boolValue'] === 'boolean') return o['boolValue'];
  if (o['structValue'] !== undefined) return wireStructToJson(o['structValue']);
  if (typeof o['listValue'] === 'object' && o['listValue'] !== null) {
    const values = (o['listValue'] as { values?: unknown }).values;
    return Array.isArray(values) ? values.map(wireValueToJson) : [];
  }
  return null;
}

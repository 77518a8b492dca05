/**
 * Test fixtures of the east-west gateway's data plane: the config Pilot generates for west's
 * gateway (generator → wire → validator), and a TLS echo backend on a pod's inbound port.
 */
import { once } from 'node:events';
import tls from 'node:tls';
import type { Result } from '../../src/common/result.ts';
import { generate } from '../../src/pilot/generators/index.ts';
import type { ClusterConfig, ClusterLoadAssignmentConfig, ListenerConfig, ProxyConfig } from '../../src/xds/config-types.ts';
import { validateCluster, validateClusterLoadAssignment, validateListener } from '../../src/xds/index.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { proxyNode, SnapshotBuilder } from '../pilot/support/snapshot-builder.ts';
import { decoded } from '../xds/support/decode.ts';
import type { SelfSigned } from './tls-fixtures.ts';

function must<T>(r: Result<T>): T {
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.value;
}

/** The ServiceExport of reviews in `default`. */
export const REVIEWS_EXPORT = 'apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\nmetadata: {name: reviews, namespace: default}\n';

/** West's gateway config, from the snapshot `fill` builds (cluster west, gateway at `gatewayAddress`). */
export function gatewayConfig(gatewayAddress: string, fill: (b: SnapshotBuilder) => void): ProxyConfig {
  const b = new SnapshotBuilder({ cluster: 'west', gatewayAddress });
  fill(b);
  const snap = b.build();
  const router = proxyNode('router', { cluster: 'west', ip: gatewayAddress, workload: 'istio-eastwestgateway', namespace: 'istio-system' });
  const listeners = new Map<string, ListenerConfig>();
  for (const r of generate(router, TYPE_URL.listener, snap)) listeners.set(r.name, must(validateListener(decoded(r.resource))));
  const clusters = new Map<string, ClusterConfig>();
  for (const r of generate(router, TYPE_URL.cluster, snap)) clusters.set(r.name, must(validateCluster(decoded(r.resource))));
  const endpoints = new Map<string, ClusterLoadAssignmentConfig>();
  for (const r of generate(router, TYPE_URL.endpoint, snap)) endpoints.set(r.name, must(validateClusterLoadAssignment(decoded(r.resource))));
  return { listeners, routes: new Map(), clusters, endpoints, versions: { listener: '1', route: '1', cluster: '1', endpoint: '1' } };
}

/** West with reviews (exported) on one pod at `pod`. */
export function reviewsGatewayConfig(gatewayAddress: string, pod: string): ProxyConfig {
  return gatewayConfig(gatewayAddress, (b) => {
    b.workload('reviews-w1', 'reviews', 9080, { address: pod, labels: { app: 'reviews', version: 'v1' } });
    b.yaml(REVIEWS_EXPORT);
  });
}

/** A TLS server on `address`:15006 that echoes and never closes on its own; the caller closes it. */
export async function startEchoBackend(address: string, cert: SelfSigned): Promise<tls.Server> {
  const server = tls.createServer({ key: cert.keyPem, cert: cert.certPem }, (sock) => {
    sock.on('error', () => {});
    sock.on('data', (d: Buffer) => sock.write(d));
  });
  server.on('tlsClientError', () => {});
  server.listen(15006, address);
  await once(server, 'listening');
  return server;
}

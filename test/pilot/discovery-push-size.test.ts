// Addresses: 127.143.0.1 (the discovery server, ports from listen(0)); 127.143.1.x are workload
// addresses in the registry file only (nothing binds them).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { Registry } from 'prom-client';
import { issueServingCertificate } from '../../src/citadel/index.ts';
import type { WorkloadRegistryFile, WorkloadSpec } from '../../src/common/workload.ts';
import { createDiscoveryServer } from '../../src/pilot/index.ts';
import { AdsClient } from '../../src/xds/index.ts';
import { makeCa, silentLogger, tempDir } from '../citadel/fixtures.ts';

/**
 * What a push costs each proxy, through the real Pilot (file registry, config folder, generators,
 * ADS server) and real ADS clients that count what they decode: a change of one service's
 * DestinationRule and VirtualService sends, over delta, one Cluster and one RouteConfiguration of
 * which the client re-validates one virtual host; nothing else is sent again. The mesh has 30
 * services, so "all of them" and "one" cannot be confused.
 */
const ADDRESS = '127.143.0.1';
const SERVICES = 30;

const workload = (i: number): WorkloadSpec => ({
  name: `w${i}`,
  namespace: 'default',
  serviceAccount: `svc${i}`,
  cluster: 'east',
  address: `127.143.1.${i + 10}`,
  labels: { app: `svc${i}` },
  service: { name: `svc${i}`, port: 9080, protocol: 'http' },
  sidecar: true,
});

const CHANGE = (lb: string, timeout: string): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc3}
spec:
  host: svc3
  trafficPolicy: {loadBalancer: {simple: ${lb}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: svc3}
spec:
  hosts: [svc3]
  http:
  - route: [{destination: {host: svc3}}]
    timeout: ${timeout}
`;

async function start(t: ExecutionContext): Promise<{ target: string; configDir: string }> {
  const dir = await tempDir(t);
  const { ca } = await makeCa(t);
  const configDir = path.join(dir, 'config');
  mkdirSync(configDir);
  const registryFile = path.join(dir, 'workloads.json');
  const file: WorkloadRegistryFile = { cluster: 'east', gatewayAddress: '127.143.0.2', workloads: Array.from({ length: SERVICES }, (_, i) => workload(i)) };
  writeFileSync(registryFile, JSON.stringify(file));
  const serving = issueServingCertificate({ ca, dnsNames: ['istiod.istio-system.svc'], ipAddresses: [ADDRESS], spiffeId: 'spiffe://cluster.local/ns/istio-system/sa/istiod', ttlSeconds: 3600 });
  const server = await createDiscoveryServer({
    cluster: 'east',
    trustDomain: 'cluster.local',
    address: ADDRESS,
    registryFile,
    configDir,
    serving,
    clientRootsPem: ca.rootPem,
    ports: { xdsPlain: 0, xdsTls: 0 },
    metrics: new Registry(),
    debounceMs: 10,
    logger: silentLogger,
  });
  t.teardown(() => server.close());
  await server.listen();
  return { target: server.addresses.plain, configDir };
}

function client(t: ExecutionContext, target: string, i: number): AdsClient {
  const w = workload(i);
  const c = new AdsClient({
    target,
    credentials: grpc.credentials.createInsecure(),
    apiType: 'DELTA_GRPC',
    node: { type: 'sidecar', ip: w.address, workload: w.name, namespace: w.namespace, cluster: 'east', serviceAccount: w.serviceAccount, labels: w.labels },
    logger: silentLogger,
  });
  t.teardown(() => c.close());
  c.start();
  return c;
}

/** Resolves once `check` holds after a config event (or already does); rejects after 20 s. */
function until(c: AdsClient, check: () => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (check()) return resolve();
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 20_000);
    const on = (): void => {
      if (!check()) return;
      clearTimeout(timer);
      c.off('config', on);
      resolve();
    };
    c.on('config', on);
  });
}

const SVC3 = 'outbound|9080||svc3.default.svc.cluster.local';

test('one service’s DestinationRule and VirtualService change: over delta each proxy gets one Cluster and one RouteConfiguration, and re-validates one virtual host', async (t) => {
  const { target, configDir } = await start(t);
  writeFileSync(path.join(configDir, 'svc3.yaml'), CHANGE('ROUND_ROBIN', '1s'));
  const clients = [client(t, target, 0), client(t, target, 1)];
  for (const c of clients) await until(c, () => c.ready() && c.current().clusters.get(SVC3)?.lbPolicy === 'ROUND_ROBIN', 'the first config');
  t.is(clients[0]?.current().clusters.size, SERVICES + 1, 'every outbound cluster and the inbound one');
  const before = clients.map((c) => ({ ...c.decodedResources(), hosts: c.decodedVirtualHosts() }));
  writeFileSync(path.join(configDir, 'svc3.yaml'), CHANGE('LEAST_REQUEST', '2s'));
  for (const c of clients) {
    await until(
      c,
      () => c.current().clusters.get(SVC3)?.lbPolicy === 'LEAST_REQUEST' && c.decodedVirtualHosts() > (before[clients.indexOf(c)]?.hosts ?? 0),
      'the changed cluster and virtual host',
    );
  }
  for (const [i, c] of clients.entries()) {
    const b = before[i];
    const now = c.decodedResources();
    t.deepEqual(
      { cluster: now.cluster - (b?.cluster ?? 0), route: now.route - (b?.route ?? 0), endpoint: now.endpoint - (b?.endpoint ?? 0), listener: now.listener - (b?.listener ?? 0) },
      { cluster: 1, route: 1, endpoint: 0, listener: 0 },
      `proxy ${i}: resources decoded for the push`,
    );
    t.is(c.decodedVirtualHosts() - (b?.hosts ?? 0), 1, `proxy ${i}: virtual hosts re-validated`);
  }
});

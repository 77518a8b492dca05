import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { pino } from 'pino';
import { initCa, issueServingCertificate, loadCa, startCitadel } from '../../src/citadel/index.ts';
import { SidecarOptionsError, startSidecar } from '../../src/sidecar/index.ts';

/**
 * startSidecar against a real Citadel over TLS (127.61.4.1:15012) and an xDS target that is not
 * up: the sidecar gets its certificate, serves admin/health/metrics, and reports not ready until
 * xDS config arrives.
 */
const CONTROL = '127.61.4.1';
const WORKLOAD = '127.61.4.2';
const SERVER_NAME = 'istiod.meshfed-system.svc';
const logger = pino({ level: 'silent' });

test('startSidecar obtains its certificate from Citadel and is not ready without xDS', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-sidecar-start-'));
  const cleanups: (() => Promise<void>)[] = [() => rm(dir, { recursive: true, force: true })];
  try {
    await initCa({ dir, clusters: ['east'], trustDomain: 'cluster.local' });
    const ca = await loadCa(path.join(dir, 'east'));
    const citadel = await startCitadel({
      host: CONTROL,
      port: 15012,
      ca,
      trustDomain: 'cluster.local',
      authenticate: (md) => (md.get('authorization')[0] === 'Bearer good-token' ? { namespace: 'default', serviceAccount: 'reviews' } : undefined),
      servingCert: issueServingCertificate({ ca, dnsNames: [SERVER_NAME], ipAddresses: [CONTROL], ttlSeconds: 3600 }),
      logger,
    });
    cleanups.push(() => citadel.close());
    const sidecar = await startSidecar({
      workload: { name: 'reviews-v1', namespace: 'default', serviceAccount: 'reviews', cluster: 'east', address: WORKLOAD, labels: { app: 'reviews' }, servicePort: 9080 },
      xds: { target: `${CONTROL}:15010`, serverName: SERVER_NAME, rootsPem: ca.rootPem },
      ca: { target: `${CONTROL}:15012`, serverName: SERVER_NAME, token: 'good-token' },
      trustDomain: 'cluster.local',
      logger,
    });
    cleanups.push(() => sidecar.close());
    t.false(sidecar.ready());
    const ready = await fetch(`${sidecar.urls.admin}/ready`);
    t.is(ready.status, 503);
    t.regex(await ready.text(), /xDS/);
    const health = await fetch(`http://${WORKLOAD}:15021/healthz/ready`);
    t.is(health.status, 503);
    const dump = (await (await fetch(`${sidecar.urls.admin}/config_dump`)).json()) as { certificate: { spiffeId: string; serial: string } };
    t.is(dump.certificate.spiffeId, 'spiffe://cluster.local/ns/default/sa/reviews');
    t.regex(dump.certificate.serial, /^[0-9A-F]+$/);
    t.is((await fetch(`${sidecar.urls.metrics}/stats/prometheus`)).status, 200);
    t.is(sidecar.urls.metrics, `http://${WORKLOAD}:15090`);
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
});

test('startSidecar rejects invalid options naming the field', async (t) => {
  const err = await t.throwsAsync(
    startSidecar({
      workload: { name: 'w', namespace: 'default', serviceAccount: 'sa', cluster: 'east', address: WORKLOAD, labels: {}, servicePort: 0 },
      xds: { target: 'x:1', serverName: 's', rootsPem: 'r' },
      ca: { target: 'x:1', serverName: 's', token: 't' },
      trustDomain: 'cluster.local',
      logger,
    }),
    { instanceOf: SidecarOptionsError },
  );
  t.is(err?.message, 'invalid workload.servicePort');
  const api = await t.throwsAsync(
    startSidecar({
      workload: { name: 'w', namespace: 'default', serviceAccount: 'sa', cluster: 'east', address: WORKLOAD, labels: {}, servicePort: 8080 },
      xds: { target: 'x:1', serverName: 's', rootsPem: 'r', apiType: 'REST' as 'GRPC' },
      ca: { target: 'x:1', serverName: 's', token: 't' },
      trustDomain: 'cluster.local',
      logger,
    }),
    { instanceOf: SidecarOptionsError },
  );
  t.is(api?.message, 'invalid xds.apiType: must be one of GRPC, DELTA_GRPC');
});

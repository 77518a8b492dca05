import http from 'node:http';
import http2 from 'node:http2';
import { pino } from 'pino';
import test from 'ava';
import { CertificateRotator, issueServingCertificate, type RotatorClock, startCitadel } from '../../src/citadel/index.ts';
import { createDataPlane } from '../../src/sidecar/index.ts';
import { sniFor } from '../../src/xds/naming.ts';
import { createTestCa } from './support-certs.ts';
import { closeHttp, inboundCluster, inboundListener, listenOn, proxyConfig } from './support-config.ts';

/**
 * Case 28: Citadel down past the renewal point. A sidecar whose workload certificate comes from a
 * real Citadel (a short life: 4 s, renewal due at half) loses Citadel right after its first
 * certificate: it keeps serving mTLS with the certificate it has, every failed renewal counts in
 * `meshfed_cert_renewal_failures_total`, `istio_agent_cert_expiry_seconds` falls towards zero, and
 * the retries back off (the delays the rotator asks its clock for double). Loopback 127.171.6.x.
 */
const HOST = '127.171.6.1';
const SIDECAR = '127.171.6.2';
const SERVER_NAME = 'istiod.meshfed-system.svc';
const logger = pino({ level: 'silent' });

function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{resource_name="default"}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

function mtlsGet(port: number, tls: { key: string; cert: string; ca: string }, sni: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`https://${SIDECAR}:15006`, { ...tls, servername: sni, checkServerIdentity: () => undefined });
    s.on('error', reject);
    const req = s.request({ ':path': '/', ':authority': `db:${port}` });
    req.on('response', (h) => {
      resolve(Number(h[':status']));
      s.close();
    });
    req.on('error', reject);
    req.end();
  });
}

test('Citadel down past the renewal point: mTLS keeps serving, renewal failures count, the expiry gauge falls, retries back off', async (t) => {
  const ca = await createTestCa('east');
  t.teardown(() => ca.dispose());
  const citadel = await startCitadel({
    host: HOST,
    port: 0,
    ca: ca.ca,
    trustDomain: ca.trustDomain,
    authenticate: () => ({ namespace: 'default', serviceAccount: 'db' }),
    servingCert: issueServingCertificate({ ca: ca.ca, dnsNames: [SERVER_NAME], ipAddresses: [HOST], ttlSeconds: 3600 }),
    logger,
  });
  let citadelUp = true;
  t.teardown(async () => {
    if (citadelUp) await citadel.close();
  });
  const delays: number[] = [];
  const clock: RotatorClock = {
    now: () => Date.now(),
    setTimeout: (fn, ms) => {
      delays.push(ms);
      const h = setTimeout(fn, ms);
      h.unref();
      return h;
    },
    clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  };
  const rotator = new CertificateRotator({
    request: { target: `${HOST}:${citadel.port}`, rootsPem: ca.ca.rootPem, serverName: SERVER_NAME, token: 'unused', identity: { trustDomain: ca.trustDomain, namespace: 'default', serviceAccount: 'db' }, ttlSeconds: 4 },
    clock,
    logger,
    retryInitialMs: 100,
    retryMaxMs: 400,
  });
  t.teardown(() => rotator.close());
  const first = await rotator.start();
  await citadel.close();
  citadelUp = false;

  const app = http.createServer((_req, res) => res.end('db'));
  const appPort = await listenOn(app, SIDECAR);
  t.teardown(() => closeHttp(app));
  const plane = await createDataPlane({
    workload: { name: 'db-v1', namespace: 'default', serviceAccount: 'db', cluster: 'east', address: SIDECAR, labels: { app: 'db' } },
    certificates: rotator,
    logger,
  });
  t.teardown(() => plane.close());
  const applied = await plane.applyConfig(proxyConfig({ listeners: [inboundListener(SIDECAR, [appPort])], clusters: [inboundCluster(SIDECAR, appPort)] }));
  if (!applied.ok) throw applied.errors[0];
  const scrape = async (): Promise<string> => (await fetch(`${plane.urls.metrics}/stats/prometheus`)).text();

  const before = await scrape();
  const gauge0 = sample(before, 'istio_agent_cert_expiry_seconds');
  t.is(sample(before, 'meshfed_cert_renewal_failures_total'), 0);
  t.true(gauge0 !== undefined && gauge0 > 0 && gauge0 <= 4, before);

  // Past the renewal point (2 s), with three retries failed.
  let text = before;
  for (let i = 0; i < 100 && (sample(text, 'meshfed_cert_renewal_failures_total') ?? 0) < 3; i++) {
    await new Promise((r) => setTimeout(r, 50));
    text = await scrape();
  }
  const failures = sample(text, 'meshfed_cert_renewal_failures_total') ?? 0;
  t.true(failures >= 3, text);
  const gauge1 = sample(text, 'istio_agent_cert_expiry_seconds');
  t.true(gauge1 !== undefined && gauge0 !== undefined && gauge1 < gauge0, `${gauge0} → ${gauge1}`);
  t.true(rotator.current().notAfter.getTime() > Date.now(), 'the test checks serving before expiry');
  t.is(rotator.current(), first, 'the certificate in use is still the first one');

  // Still serving mTLS with the current certificate.
  const caller = ca.issue('default', 'caller');
  t.is(await mtlsGet(appPort, { key: caller.privateKeyPem, cert: caller.certChainPem, ca: caller.rootsPem }, sniFor(appPort, '', 'db.default.svc.cluster.local')), 200);

  // The renewal was scheduled once at half the life, then each failure doubled the wait (capped at 400 ms).
  t.true((delays[0] ?? 0) > 1000 && (delays[0] ?? 0) <= 2000, String(delays[0]));
  t.deepEqual(delays.slice(1, 4), [100, 200, 400]);
});

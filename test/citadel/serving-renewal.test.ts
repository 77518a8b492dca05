/**
 * Every serving certificate renews at half its life, through one scheduler (serving-renewal.ts):
 * a standalone Citadel and a standalone Mixer on real TLS sockets with certificates from the
 * cluster's CA (two-second lives, so renewal is due after about one), checked by the leaf a fresh
 * handshake sees; and a failing issuer, which keeps the certificate in use and counts failures.
 * Loopback 127.171.7.x.
 */
import tls from 'node:tls';
import test from 'ava';
import { type CaMaterial, issueServingCertificate, startCitadel } from '../../src/citadel/index.ts';
import { renewServingCertificate } from '../../src/citadel/serving-renewal.ts';
import { CertificateMetrics } from '../../src/common/cert-metrics.ts';
import { Registry } from '../../src/common/prom.ts';
import { startMixer } from '../../src/mixer/index.ts';
import { makeCa, silentLogger, TRUST_DOMAIN } from './fixtures.ts';

const HOST = '127.171.7.1';
const NAME = 'istiod.meshfed-system.svc';

const issuer = (ca: CaMaterial, ttlSeconds: number) => () => issueServingCertificate({ ca, dnsNames: [NAME], ipAddresses: [HOST], ttlSeconds });

/** The serial of the leaf a new TLS handshake to host:port sees. */
function servedSerial(port: number, ca: CaMaterial): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: HOST, port, servername: NAME, ca: ca.rootPem, ALPNProtocols: ['h2'] }, () => {
      resolve(s.getPeerX509Certificate()?.serialNumber ?? '');
      s.destroy();
    });
    s.on('error', reject);
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not seen within 100 polls`);
}

const SERVERS: { name: string; start: (ca: CaMaterial) => Promise<{ port: number; metrics?: () => Promise<string>; close: () => Promise<void> }> }[] = [
  {
    name: 'a standalone Citadel',
    start: async (ca) => {
      const issue = issuer(ca, 2);
      const c = await startCitadel({ host: HOST, port: 0, ca, trustDomain: TRUST_DOMAIN, authenticate: () => undefined, servingCert: issue(), renewServing: issue, logger: silentLogger });
      return { port: c.port, close: () => c.close() };
    },
  },
  {
    name: 'a standalone Mixer',
    start: async (ca) => {
      const issue = issuer(ca, 2);
      const m = await startMixer({ host: HOST, grpcPort: 0, metricsPort: 0, tls: { ...issue(), clientRootsPem: ca.rootPem, trustDomain: TRUST_DOMAIN }, renewServing: issue, logger: silentLogger });
      return { port: m.grpcPort, metrics: async () => (await fetch(`http://${HOST}:${m.metricsPort}/metrics`)).text(), close: () => m.close() };
    },
  },
];

for (const row of SERVERS) {
  test.serial(`${row.name} renews its serving certificate at half its life, in place`, async (t) => {
    const { ca } = await makeCa(t);
    const server = await row.start(ca);
    t.teardown(() => server.close());
    const first = await servedSerial(server.port, ca);
    t.not(first, '');
    const renewed = await until('a renewed serving certificate', async () => {
      const serial = await servedSerial(server.port, ca);
      return serial !== first ? serial : undefined;
    });
    t.not(renewed, first);
    if (server.metrics) {
      const text = await server.metrics();
      const line = text.split('\n').find((l) => l.startsWith('istio_agent_cert_expiry_seconds{resource_name="serving"}'));
      t.truthy(line, text);
      t.true(Number(line?.split(' ').at(-1)) > 0);
      t.regex(text, /^meshfed_cert_renewal_failures_total\{resource_name="serving"\} 0$/m);
    }
  });
}

test.serial('a failing issue keeps the certificate in use, counts each failure and retries', async (t) => {
  const { ca } = await makeCa(t);
  const first = issuer(ca, 1)();
  const registry = new Registry();
  let attempts = 0;
  const applied: unknown[] = [];
  const renewal = renewServingCertificate(first, {
    issue: () => {
      attempts++;
      throw new Error('CA unavailable');
    },
    apply: (c) => applied.push(c),
    what: 'test',
    metrics: new CertificateMetrics(registry),
    retryInitialMs: 20,
    retryMaxMs: 40,
  });
  t.teardown(() => renewal.stop());
  const text = await until('three failed renewals', async () => {
    const m = await registry.metrics();
    return /meshfed_cert_renewal_failures_total\{resource_name="serving"\} ([3-9]|\d\d)/.test(m) ? m : undefined;
  });
  t.is(renewal.current(), first);
  t.deepEqual(applied, []);
  t.true(attempts >= 3);
  t.regex(text, /istio_agent_cert_expiry_seconds\{resource_name="serving"\} /);
});

test('retry options are checked once', (t) => {
  t.throws(() => renewServingCertificate({ privateKeyPem: '', certChainPem: '', rootPem: '', notAfter: new Date() }, { issue: () => { throw new Error('x'); }, apply: () => undefined, what: 't', retryInitialMs: 0 }), { message: /retryInitialMs/ });
});

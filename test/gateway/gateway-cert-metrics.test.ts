import net from 'node:net';
import test from 'ava';
import { pino } from 'pino';
import { issueServingCertificate, startCitadel } from '../../src/citadel/index.ts';
import { startGateway } from '../../src/gateway/index.ts';
import { makeCa, TRUST_DOMAIN } from '../citadel/fixtures.ts';

/**
 * The east-west gateway's workload certificate comes from a real Citadel through the same
 * CertificateRotator as a sidecar's (renewal at half its life, certificate-rotator.test.ts), and
 * its /stats/prometheus carries the same certificate metrics (case 28). Loopback 127.171.8.x.
 */
const HOST = '127.171.8.1';
const GATEWAY = '127.171.8.2';
const NAME = 'istiod.meshfed-system.svc';
const logger = pino({ level: 'silent' });

async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, HOST, r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

test('the gateway exposes istio_agent_cert_expiry_seconds and renewal failures of its workload certificate', async (t) => {
  const { ca } = await makeCa(t);
  const citadel = await startCitadel({
    host: HOST,
    port: 0,
    ca,
    trustDomain: TRUST_DOMAIN,
    authenticate: () => ({ namespace: 'istio-system', serviceAccount: 'istio-eastwestgateway' }),
    servingCert: issueServingCertificate({ ca, dnsNames: [NAME], ipAddresses: [HOST], ttlSeconds: 3600 }),
    logger,
  });
  t.teardown(() => citadel.close());
  const gw = await startGateway({
    cluster: 'east',
    address: GATEWAY,
    port: 0,
    ports: { admin: 0, metrics: 0 },
    xds: { target: `${HOST}:${await deadPort()}`, rootsPem: ca.rootPem, serverName: NAME },
    ca: { target: `${HOST}:${citadel.port}`, serverName: NAME, token: 'unused', trustDomain: TRUST_DOMAIN },
    logger,
  });
  t.teardown(() => gw.close());
  const text = await (await fetch(`http://${GATEWAY}:${gw.metricsPort}/stats/prometheus`)).text();
  const line = text.split('\n').find((l) => l.startsWith('istio_agent_cert_expiry_seconds{resource_name="default"}'));
  t.truthy(line, text);
  const seconds = Number(line?.split(' ').at(-1));
  // Citadel's workload certificates live 24 h.
  t.true(seconds > 23 * 3600 && seconds <= 24 * 3600, String(seconds));
  t.regex(text, /^meshfed_cert_renewal_failures_total\{resource_name="default"\} 0$/m);
});

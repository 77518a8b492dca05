import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import test from 'ava';
import { pino } from 'pino';
import { OID } from '../../src/citadel/der.ts';
import { buildCertificate, encodeName, type GeneralName } from '../../src/citadel/x509-build.ts';
import { createDataPlane, type DataPlane, StaticCertificateSource } from '../../src/sidecar/index.ts';
import { serviceHostname, sniFor } from '../../src/xds/naming.ts';
import { createTestCa, type TestCa } from './support-certs.ts';
import { closeHttp, inboundCluster, inboundListener, listenOn, proxyConfig } from './support-config.ts';

/**
 * Attack cases 8, 15 and 16 against a real inbound sidecar (15006): a client presents a
 * certificate minted here with Citadel's own X.509 builder (or from a foreign Citadel root), speaks
 * mTLS HTTP/2 with the right SNI, and must be refused before any request reaches the app; a
 * well-formed Citadel leaf (the control row) is served.
 */
const SERVER = '127.161.1.2';
const SPIFFE = 'spiffe://cluster.local/ns/default/sa/caller';

let ca: TestCa;
let foreign: TestCa;
let server: DataPlane;
let appPort = 0;
let appRequests = 0;
const app = http.createServer((req, res) => {
  appRequests++;
  res.end(String(req.headers['x-forwarded-client-cert'] ?? ''));
});

test.before(async () => {
  ca = await createTestCa('east');
  foreign = await createTestCa('east');
  appPort = await listenOn(app, SERVER);
  server = await createDataPlane({
    workload: { name: 'db-v1', namespace: 'default', serviceAccount: 'db', cluster: 'east', address: SERVER, labels: { app: 'db' } },
    certificates: new StaticCertificateSource(ca.issue('default', 'db')),
    logger: pino({ level: 'silent' }),
  });
  const r = await server.applyConfig(proxyConfig({ listeners: [inboundListener(SERVER, [appPort])], clusters: [inboundCluster(SERVER, appPort)] }));
  if (!r.ok) throw r.errors[0];
});

test.after.always(async () => {
  await server?.close();
  await closeHttp(app);
  await ca?.dispose();
  await foreign?.dispose();
});

/** A leaf under the test CA's intermediate with exactly these SANs and EKUs. */
function mint(sans: GeneralName[], eku: string[] | undefined): { key: string; cert: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const now = Date.now();
  const der = buildCertificate({
    subject: encodeName({}),
    issuer: ca.ca.subjectDer,
    subjectPublicKey: publicKey.export({ type: 'spki', format: 'der' }),
    issuerPublicKey: ca.ca.publicKeyDer,
    signingKey: ca.ca.privateKey,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3_600_000),
    ca: false,
    ...(eku !== undefined ? { extKeyUsage: eku } : {}),
    subjectAltNames: sans,
  });
  const pem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), cert: pem + ca.ca.chainPems.join('') };
}

const BOTH = [OID.serverAuth, OID.clientAuth];

/** One request over mTLS HTTP/2 to 15006; the status, or the error that ended it. */
function call(creds: { key: string; cert: string }): Promise<{ status?: number; body?: string; error?: string }> {
  return new Promise((resolve) => {
    const session = http2.connect(`https://${SERVER}:15006`, {
      ...creds,
      ca: ca.ca.rootPem,
      servername: sniFor(appPort, '', serviceHostname('db', 'default')),
      checkServerIdentity: () => undefined,
    });
    const done = (r: { status?: number; body?: string; error?: string }): void => {
      session.destroy();
      resolve(r);
    };
    session.on('error', (e) => done({ error: e.message }));
    session.on('close', () => done({ error: 'closed' }));
    const req = session.request({ ':path': '/', ':authority': 'db' });
    req.on('error', (e) => done({ error: e.message }));
    let status: number | undefined;
    let body = '';
    req.on('response', (h) => {
      status = Number(h[':status']);
    });
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => done({ ...(status !== undefined ? { status } : {}), body }));
    req.end();
  });
}

const ROWS: { name: string; creds: () => { key: string; cert: string }; served: boolean }[] = [
  { name: 'control: a well-formed Citadel leaf is served', creds: () => mint([{ type: 'uri', value: SPIFFE }], BOTH), served: true },
  {
    name: '15: the right SPIFFE ID from a foreign root',
    creds: () => {
      const b = foreign.issue('default', 'caller');
      return { key: b.privateKeyPem, cert: b.certChainPem };
    },
    served: false,
  },
  { name: '16: a NUL-suffixed URI SAN', creds: () => mint([{ type: 'uri', value: `${SPIFFE}\u0000.evil.example` }], BOTH), served: false },
  { name: '16: a wildcard URI SAN', creds: () => mint([{ type: 'uri', value: 'spiffe://cluster.local/ns/default/sa/*' }], BOTH), served: false },
  { name: '16: several URI SANs', creds: () => mint([{ type: 'uri', value: SPIFFE }, { type: 'uri', value: 'spiffe://cluster.local/ns/default/sa/admin' }], BOTH), served: false },
  { name: '16: a DNS SAN only (wrong type)', creds: () => mint([{ type: 'dns', value: 'caller.default.svc.cluster.local' }], BOTH), served: false },
  { name: 'a SPIFFE ID of another trust domain, under the mesh root', creds: () => mint([{ type: 'uri', value: 'spiffe://evil.example/ns/default/sa/caller' }], BOTH), served: false },
  { name: '16: a malformed SPIFFE ID', creds: () => mint([{ type: 'uri', value: 'spiffe://cluster.local/default/caller' }], BOTH), served: false },
  { name: '16: serverAuth only (no clientAuth EKU)', creds: () => mint([{ type: 'uri', value: SPIFFE }], [OID.serverAuth]), served: false },
  { name: '16: no extended key usage at all', creds: () => mint([{ type: 'uri', value: SPIFFE }], undefined), served: false },
  { name: '8: a URI SAN with CRLF (header injection)', creds: () => mint([{ type: 'uri', value: `${SPIFFE}\r\nx-evil: 1` }], BOTH), served: false },
];

for (const row of ROWS) {
  test.serial(row.name, async (t) => {
    const before = appRequests;
    const r = await call(row.creds());
    if (row.served) {
      t.is(r.status, 200, JSON.stringify(r));
      t.true(r.body?.includes(`URI=${SPIFFE}`), 'the app sees the verified peer in XFCC');
      t.is(appRequests, before + 1);
    } else {
      // The handshake fails or the connection is closed after it: the stream ends without a response.
      t.is(r.status, undefined, `refused before any response: ${JSON.stringify(r)}`);
      t.is(appRequests, before, 'nothing reached the app');
    }
  });
}

import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import {
  type CaMaterial,
  CertificateRequestError,
  bootstrapTokenAuthenticator,
  issueServingCertificate,
  requestCertificate,
  rootsFromPem,
  startCitadel,
  verifyPeerChain,
  type WorkloadIdentity,
} from '../../src/citadel/index.ts';
import { certificateServiceDefinition } from '../../src/citadel/ca-service.ts';
import { derToPem } from '../../src/citadel/der.ts';
import { buildCsr, encodeName } from '../../src/citadel/x509-build.ts';
import { makeCa, randomToken, silentLogger, TRUST_DOMAIN, tempDir, writeTokenFile } from './fixtures.ts';

const SERVER_NAME = 'istiod.meshfed-system.svc';
const reviews: WorkloadIdentity = { trustDomain: TRUST_DOMAIN, namespace: 'default', serviceAccount: 'reviews' };

interface Harness {
  ca: CaMaterial;
  target: string;
  token: string;
  tokenFile: string;
}

async function harness(t: ExecutionContext): Promise<Harness> {
  const { ca } = await makeCa(t);
  const dir = await tempDir(t);
  const token = randomToken();
  const tokenFile = await writeTokenFile(path.join(dir, 'tokens.json'), { [token]: { namespace: 'default', serviceAccount: 'reviews' } });
  const servingCert = issueServingCertificate({ ca, dnsNames: [SERVER_NAME], ipAddresses: ['127.0.0.1'], ttlSeconds: 3600 });
  const citadel = await startCitadel({
    host: '127.0.0.1',
    port: 0,
    ca,
    trustDomain: TRUST_DOMAIN,
    authenticate: bootstrapTokenAuthenticator(tokenFile),
    servingCert,
    logger: silentLogger,
  });
  t.teardown(() => citadel.close());
  return { ca, target: `127.0.0.1:${citadel.port}`, token, tokenFile };
}

function csrPem(uri: string | undefined): string {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const sans = uri ? [{ type: 'uri' as const, value: uri }] : [];
  return derToPem(buildCsr({ subject: encodeName({}), publicKey: publicKey.export({ type: 'spki', format: 'der' }), privateKey, subjectAltNames: sans }), 'CERTIFICATE REQUEST');
}

/** Calls CreateCertificate with a hand-made request; resolves to the status code (OK = 0). */
function rawCall(h: Harness, request: { csr: string; validity_duration?: string }, token: string | undefined): Promise<{ code: number; chain?: string[] }> {
  const method = certificateServiceDefinition()['CreateCertificate']!;
  const client = new grpc.Client(h.target, grpc.credentials.createSsl(Buffer.from(h.ca.rootPem)), {
    'grpc.ssl_target_name_override': SERVER_NAME,
  });
  const md = new grpc.Metadata();
  if (token !== undefined) md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, request, md, (err: grpc.ServiceError | null, value?: unknown) => {
      client.close();
      resolve(err ? { code: err.code } : { code: grpc.status.OK, chain: (value as { cert_chain: string[] }).cert_chain });
    });
  });
}

test('a good token gets a certificate for the caller identity over TLS', async (t) => {
  const h = await harness(t);
  const bundle = await requestCertificate({ target: h.target, rootsPem: h.ca.rootPem, serverName: SERVER_NAME, token: h.token, identity: reviews, ttlSeconds: 600 });
  t.is(bundle.spiffeId, 'spiffe://cluster.local/ns/default/sa/reviews');
  t.is(bundle.notAfter.getTime() - bundle.notBefore.getTime(), 660_000, '600 s plus the one-minute backdate');
  const chain = rootsFromPem(bundle.certChainPem);
  t.is(chain.length, 2, 'leaf + intermediate, root excluded');
  t.true(chain[1]!.raw.equals(h.ca.cert.raw));
  t.true(chain[0]!.checkPrivateKey(createPrivateKey(bundle.privateKeyPem)));
});

const refusals: Array<[string, (h: Harness) => Promise<{ code: number }>, grpc.status]> = [
  ['no token', (h) => rawCall(h, { csr: csrPem(undefined) }, undefined), grpc.status.UNAUTHENTICATED],
  ['an unknown token', (h) => rawCall(h, { csr: csrPem(undefined) }, randomToken()), grpc.status.UNAUTHENTICATED],
  ['a CSR for another service account', (h) => rawCall(h, { csr: csrPem('spiffe://cluster.local/ns/default/sa/ratings') }, h.token), grpc.status.PERMISSION_DENIED],
  ['a garbage CSR', (h) => rawCall(h, { csr: 'garbage' }, h.token), grpc.status.INVALID_ARGUMENT],
  ['a negative validity', (h) => rawCall(h, { csr: csrPem(undefined), validity_duration: '-10' }, h.token), grpc.status.INVALID_ARGUMENT],
  ['a CSR without SAN and a good token', (h) => rawCall(h, { csr: csrPem(undefined) }, h.token), grpc.status.OK],
];

for (const [name, call, expected] of refusals) {
  test(`CreateCertificate with ${name} → ${grpc.status[expected]}`, async (t) => {
    const h = await harness(t);
    t.is((await call(h)).code, expected);
  });
}

test('requestCertificate surfaces the gRPC status and checks the server name', async (t) => {
  const h = await harness(t);
  const base = { target: h.target, rootsPem: h.ca.rootPem, serverName: SERVER_NAME, identity: reviews };
  const denied = await t.throwsAsync(requestCertificate({ ...base, token: 'wrong' }), { instanceOf: CertificateRequestError });
  t.is(denied.grpcCode, grpc.status.UNAUTHENTICATED);
  const other = await t.throwsAsync(requestCertificate({ ...base, token: h.token, identity: { ...reviews, serviceAccount: 'ratings' } }), {
    instanceOf: CertificateRequestError,
  });
  t.is(other.grpcCode, grpc.status.PERMISSION_DENIED);
  const badName = await t.throwsAsync(requestCertificate({ ...base, token: h.token, serverName: 'evil.example', timeoutMs: 3000 }), {
    instanceOf: CertificateRequestError,
  });
  t.not(badName.grpcCode, grpc.status.OK);
  const otherRoots = await makeCa(t);
  const untrusted = await t.throwsAsync(requestCertificate({ ...base, token: h.token, rootsPem: otherRoots.ca.rootPem, timeoutMs: 3000 }), {
    instanceOf: CertificateRequestError,
  });
  t.is(untrusted.grpcCode, grpc.status.UNAVAILABLE);
});

test('the token file is re-read when it changes', async (t) => {
  const h = await harness(t);
  const fresh = randomToken();
  const base = { target: h.target, rootsPem: h.ca.rootPem, serverName: SERVER_NAME, identity: { ...reviews, serviceAccount: 'ratings' } };
  await t.throwsAsync(requestCertificate({ ...base, token: fresh }));
  await writeTokenFile(h.tokenFile, { [h.token]: { namespace: 'default', serviceAccount: 'reviews' }, [fresh]: { namespace: 'default', serviceAccount: 'ratings' } });
  const bundle = await requestCertificate({ ...base, token: fresh });
  t.is(bundle.spiffeId, 'spiffe://cluster.local/ns/default/sa/ratings');
  await writeFile(h.tokenFile, '{ not json');
  const kept = await requestCertificate({ ...base, token: fresh });
  t.is(kept.spiffeId, bundle.spiffeId, 'an unparsable file keeps the last good tokens');
});

test('issued bundles carry mutual TLS between two workloads, each seeing the other SPIFFE ID', async (t) => {
  const h = await harness(t);
  const ratingsToken = randomToken();
  await writeTokenFile(h.tokenFile, { [h.token]: { namespace: 'default', serviceAccount: 'reviews' }, [ratingsToken]: { namespace: 'prod', serviceAccount: 'ratings' } });
  const base = { target: h.target, rootsPem: h.ca.rootPem, serverName: SERVER_NAME };
  const client = await requestCertificate({ ...base, token: h.token, identity: reviews });
  const server = await requestCertificate({ ...base, token: ratingsToken, identity: { trustDomain: TRUST_DOMAIN, namespace: 'prod', serviceAccount: 'ratings' } });
  const roots = rootsFromPem(h.ca.rootPem);
  let seenByClient: Promise<unknown> = Promise.resolve(undefined);
  const seenByServer = new Promise<string>((resolve, reject) => {
    const srv = tls.createServer({ key: server.privateKeyPem, cert: server.certChainPem, ca: server.rootsPem, requestCert: true, rejectUnauthorized: true }, (socket) => {
      const r = verifyPeerChain(socket.getPeerCertificate(true), roots, { usage: 'client' });
      socket.end();
      r.ok ? resolve(r.value) : reject(new Error(r.errors.join('; ')));
    });
    t.teardown(() => new Promise<void>((done) => srv.close(() => done())));
    srv.listen(0, '127.0.0.1', () => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: (srv.address() as AddressInfo).port,
        key: client.privateKeyPem,
        cert: client.certChainPem,
        ca: client.rootsPem,
        // Workload certificates carry no DNS name: identity is checked through the SPIFFE ID.
        checkServerIdentity: () => undefined,
      });
      seenByClient = new Promise((resolveClient) => {
        socket.on('secureConnect', () => resolveClient(verifyPeerChain(socket.getPeerCertificate(true), roots, { usage: 'server' })));
      });
      socket.on('error', reject);
      socket.resume();
    });
  });
  t.is(await seenByServer, 'spiffe://cluster.local/ns/default/sa/reviews');
  t.deepEqual(await seenByClient, { ok: true, value: 'spiffe://cluster.local/ns/prod/sa/ratings' });
});

test('issuance cost: keygen + CSR + sign + RPC over TLS', async (t) => {
  const h = await harness(t);
  const opts = { target: h.target, rootsPem: h.ca.rootPem, serverName: SERVER_NAME, token: h.token, identity: reviews };
  await requestCertificate(opts); // warm up (proto load, JIT)
  const n = 20;
  const started = process.hrtime.bigint();
  const serials = new Set<string>();
  for (let i = 0; i < n; i++) {
    const b = await requestCertificate(opts);
    serials.add(new X509Certificate(b.certChainPem).serialNumber);
  }
  const perCallMs = Number(process.hrtime.bigint() - started) / 1e6 / n;
  t.log(`one workload certificate (new channel + TLS handshake + keygen + CSR + sign + verify): ${perCallMs.toFixed(2)} ms`);
  t.is(serials.size, n);
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import anyTest, { type TestFn } from 'ava';
import { applyYaml, eventually, type FixtureMeshContext, request } from './support/mesh.ts';
import { useFixtureMesh } from './support/mesh.ts';

/**
 * DestinationRule `tls` through a running mesh (`meshfed up`), applied with `meshfed apply` in
 * Istio's shapes:
 * - Istio's "egress TLS origination" task: a DNS-resolved ServiceEntry with ports 80 and 443, a
 *   VirtualService sending port 80 to 443 and a DestinationRule with `portLevelSettings` tls
 *   SIMPLE on 443: the client app sends plain HTTP and reaches a real TLS server (certificate from
 *   a test CA made with openssl) through its sidecar, which originates TLS;
 * - Bookinfo's destination-rule-all-mtls: reviews keeps working, with the caller's identity, in
 *   both clusters;
 * - tls DISABLE on one subset: that subset is reached in plaintext (the destination sees no peer
 *   identity) while the other keeps mTLS.
 * Addresses: 127.130.0.0/16 (the mesh), 127.130.200.1 (the external TLS server).
 */
const test = anyTest as TestFn<FixtureMeshContext>;
const EXTERNAL = '127.130.200.1';
const CLIENT = 'east/default/client';
const CALLER = 'spiffe://cluster.local/ns/default/sa/client';

useFixtureMesh(test, { block: 130, network: 'loopback' });

function makeCerts(dir: string): void {
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=external test CA');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=edition.tls.example');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:edition.tls.example\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
}

test.serial("Istio's egress TLS origination task: plain HTTP from the app, TLS from the sidecar to the external server", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshfed-e2e-130-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  makeCerts(dir);
  const server = https.createServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) }, (req, res) => {
    const socket = req.socket as TLSSocket & { servername?: string | false };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ tls: socket.encrypted === true, sni: socket.servername || '', host: req.headers.host ?? '', url: req.url ?? '' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, EXTERNAL, resolve);
  });
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const port = (server.address() as AddressInfo).port;
  await applyYaml(
    t,
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: tls-example
spec:
  hosts:
  - edition.tls.example
  ports:
  - number: 80
    name: http-port
    protocol: HTTP
  - number: 443
    name: http-port-for-tls-origination
    protocol: HTTP
  resolution: DNS
  endpoints:
  - address: ${EXTERNAL}
    ports:
      http-port-for-tls-origination: ${port}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: tls-example
spec:
  hosts:
  - edition.tls.example
  http:
  - match:
    - port: 80
    route:
    - destination:
        host: edition.tls.example
        port:
          number: 443
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: tls-example
spec:
  host: edition.tls.example
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
    portLevelSettings:
    - port:
        number: 443
      tls:
        mode: SIMPLE
        caCertificates: ${join(dir, 'ca.pem')}
`,
  );
  let last = '';
  const reply = await eventually('edition.tls.example through the sidecar', async () => {
    const r = await request(t.context.state, CLIENT, 'http://edition.tls.example/get?via=origination');
    last = `${r.status} ${String(r.headers['x-meshfed-response-flags'])} ${r.body}`;
    return r.status === 200 ? r : undefined;
  }).catch((e: unknown) => {
    throw new Error(`${String(e)}; last reply: ${last}`);
  });
  t.deepEqual(JSON.parse(reply.body), { tls: true, sni: 'edition.tls.example', host: 'edition.tls.example', url: '/get?via=origination' });
});

const REVIEWS_DR = (trafficPolicyAndSubsets: string): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
${trafficPolicyAndSubsets}`;

interface Echo {
  version?: string;
  peer?: string | null;
}

async function reviewsReply(t: { context: FixtureMeshContext }, want: (e: Echo) => boolean, what: string): Promise<Echo> {
  return eventually(what, async () => {
    const r = await request(t.context.state, CLIENT, 'http://reviews:9080/reviews/0');
    if (r.status !== 200) return undefined;
    const e = JSON.parse(r.body) as Echo;
    return want(e) ? e : undefined;
  }, 60_000);
}

test.serial("Bookinfo's destination-rule-all-mtls applies unchanged: reviews answers in both clusters with the caller's identity", async (t) => {
  await applyYaml(
    t,
    REVIEWS_DR(`  trafficPolicy:
    tls:
      mode: ISTIO_MUTUAL
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
  - name: v3
    labels:
      version: v3`),
  );
  const v1 = await reviewsReply(t, (e) => e.version === 'v1', 'reviews v1 (east)');
  t.is(v1.peer, CALLER);
  const v2 = await reviewsReply(t, (e) => e.version === 'v2', 'reviews v2 (west, through the east-west gateway)');
  t.is(v2.peer, CALLER);
});

test.serial('tls DISABLE on subset v1: v1 is reached in plaintext (no peer identity), v2 keeps mTLS', async (t) => {
  await applyYaml(
    t,
    REVIEWS_DR(`  trafficPolicy:
    tls:
      mode: ISTIO_MUTUAL
  subsets:
  - name: v1
    labels:
      version: v1
    trafficPolicy:
      tls:
        mode: DISABLE
  - name: v2
    labels:
      version: v2`),
  );
  const v1 = await reviewsReply(t, (e) => e.version === 'v1' && e.peer === null, 'reviews v1 in plaintext');
  t.is(v1.peer, null);
  const v2 = await reviewsReply(t, (e) => e.version === 'v2', 'reviews v2 still mTLS');
  t.is(v2.peer, CALLER);
});

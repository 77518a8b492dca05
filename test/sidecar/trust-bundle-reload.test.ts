/**
 * Trust-bundle reload on a live sidecar, and case 20 of the security issue: a TLS session resumed
 * after a trust-bundle change is not let through on the strength of the old handshake. The inbound
 * listener swaps its secure context when the bundle changes (new ticket keys and session cache),
 * so a ticket from before the change buys only a full handshake, verified against the new roots.
 * Real sockets, certificates from two real Citadel CAs (the old root and the new one).
 */
import http from 'node:http';
import tls from 'node:tls';
import test from 'ava';
import { request } from 'undici';
import type { CertBundle } from '../../src/sidecar/index.ts';
import { createTestCa } from './support-certs.ts';
import { startSidecarPair } from './support-pair.ts';

// Loopback range of this file: 127.175.20.x.
const CLIENT = '127.175.20.1';
const SERVER = '127.175.20.2';

interface Attempt {
  /** The handshake completed and the server did not close on us before sending its SETTINGS. */
  accepted: boolean;
  reused: boolean;
  session: Buffer | undefined;
}

/** One h2 TLS connection to the inbound listener with `client`'s certificate; resolves once the outcome is known. */
function connect(client: CertBundle, serverRoots: string, opts: tls.ConnectionOptions): Promise<Attempt> {
  return new Promise((resolve) => {
    let session: Buffer | undefined;
    let reused = false;
    let gotData = false;
    const socket = tls.connect({
      host: SERVER,
      port: 15006,
      ALPNProtocols: ['h2'],
      key: client.privateKeyPem,
      cert: client.certChainPem,
      ca: serverRoots,
      checkServerIdentity: () => undefined,
      ...opts,
    });
    socket.on('session', (s: Buffer) => {
      session = s;
      if (gotData) socket.end();
    });
    socket.once('secureConnect', () => {
      reused = socket.isSessionReused();
    });
    // The server's SETTINGS frame: the connection was accepted after the handshake checks.
    socket.on('data', () => {
      gotData = true;
      if (session || reused) socket.end();
    });
    socket.on('error', () => undefined);
    socket.once('close', () => resolve({ accepted: gotData, reused, session }));
  });
}

const VERSIONS: { name: string; options: tls.ConnectionOptions }[] = [
  { name: 'TLS 1.2 (session ticket)', options: { maxVersion: 'TLSv1.2' } },
  { name: 'TLS 1.3 (PSK ticket)', options: { minVersion: 'TLSv1.3' } },
];

for (const v of VERSIONS) {
  test.serial(`case 20, ${v.name}: a session from before the bundle dropped its root is not resumed, and the peer is refused`, async (t) => {
    const pair = await startSidecarPair({ client: CLIENT, server: SERVER, service: 'reviews', appPort: 9080 });
    t.teardown(() => pair.close());
    const next = await createTestCa('east');
    t.teardown(() => next.dispose());
    const oldRoot = pair.ca.ca.rootPem;
    const newRoot = next.ca.rootPem;
    const oldClient = pair.ca.issue('default', 'caller');

    // Phase 1: the server trusts old+new; a caller under the old root gets a session and resumes it.
    pair.serverCerts.rotate({ ...pair.serverCerts.current(), rootsPem: oldRoot + newRoot });
    const first = await connect(oldClient, oldRoot, v.options);
    t.true(first.accepted, 'a full handshake under the old root');
    t.truthy(first.session, 'the server issued a session ticket');
    const resumed = await connect(oldClient, oldRoot, { ...v.options, session: first.session });
    t.true(resumed.accepted);
    t.true(resumed.reused, 'resumption works while the bundle is unchanged (so the next check can fail)');

    // Phase 3: the server's certificate comes from the new root and its bundle holds the new root only.
    const newServer = next.issue('default', 'reviews');
    pair.serverCerts.rotate(newServer);
    const after = await connect(oldClient, oldRoot + newRoot, { ...v.options, session: resumed.session ?? first.session });
    t.false(after.reused, 'the old session is not resumed');
    t.false(after.accepted, 'the full handshake refuses a client certificate from the dropped root');

    // A caller under the new root is accepted.
    const fresh = await connect(next.issue('default', 'caller'), newRoot, v.options);
    t.true(fresh.accepted);
  });
}

test.serial('a bundle change reaches new upstream sessions: the outbound side verifies the server against the new roots', async (t) => {
  const pair = await startSidecarPair({ client: CLIENT, server: SERVER, service: 'reviews', appPort: 9080 });
  t.teardown(() => pair.close());
  const next = await createTestCa('east');
  t.teardown(() => next.dispose());
  const app = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => app.listen(9080, SERVER, r));
  t.teardown(() => new Promise<void>((r) => app.close(() => r())));
  const get = async (): Promise<number> => {
    try {
      const r = await request(`http://${CLIENT}:15001/`, { headers: { host: 'reviews.default.svc.cluster.local:9080' } });
      await r.body.text();
      return r.statusCode;
    } catch {
      return 0;
    }
  };
  t.is(await get(), 200);
  // The client drops the old root before the server has a new certificate: its new sessions
  // refuse the server (503), which shows the bundle is applied live...
  pair.clientCerts.rotate({ ...pair.clientCerts.current(), rootsPem: next.ca.rootPem });
  t.is(await get(), 503);
  // ...and with old+new, traffic flows again.
  pair.clientCerts.rotate({ ...pair.clientCerts.current(), rootsPem: pair.ca.ca.rootPem + next.ca.rootPem });
  t.is(await get(), 200);
});

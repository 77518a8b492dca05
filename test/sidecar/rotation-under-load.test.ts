/**
 * Case 19 of the security issue (certificate rotation under load → zero failed requests), and the
 * in-process half of case 21: a sidecar pair on real sockets carries a fixed number of requests
 * from concurrent keep-alive clients while both workload certificates are rotated several times
 * and the root itself is rotated (old+new bundle, leaves under the new root, old root dropped).
 * Each step is taken when a given number of requests has completed, never on a timer. Afterwards
 * the old root is refused, which shows the rotations took effect while traffic flowed.
 */
import http from 'node:http';
import tls from 'node:tls';
import test from 'ava';
import { Agent, request } from 'undici';
import type { CertBundle } from '../../src/sidecar/index.ts';
import { createTestCa } from './support-certs.ts';
import { startSidecarPair } from './support-pair.ts';

// Loopback range of this file: 127.175.19.x.
const CLIENT = '127.175.19.1';
const SERVER = '127.175.19.2';
const TOTAL = 900;
const WORKERS = 8;
const HOST = 'reviews.default.svc.cluster.local:9080';

test.serial('case 19: workload and root rotation under load, zero failed requests', async (t) => {
  const pair = await startSidecarPair({ client: CLIENT, server: SERVER, service: 'reviews', appPort: 9080 });
  t.teardown(() => pair.close());
  const next = await createTestCa('east');
  t.teardown(() => next.dispose());
  const app = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  await new Promise<void>((r) => app.listen(9080, SERVER, r));
  t.teardown(() => new Promise<void>((r) => app.close(() => r())));
  const agent = new Agent({ connections: WORKERS, keepAliveTimeout: 10_000 });
  t.teardown(() => agent.close());

  const oldRoot = pair.ca.ca.rootPem;
  const newRoot = next.ca.rootPem;
  const both = oldRoot + newRoot;
  const withRoots = (b: CertBundle, rootsPem: string): CertBundle => ({ ...b, rootsPem });
  /** Rotation steps, each taken once `at` requests have completed. */
  const steps: { at: number; name: string; run: () => void }[] = [
    { at: 100, name: 'client renews', run: () => pair.clientCerts.rotate(pair.ca.issue('default', 'caller')) },
    { at: 200, name: 'server renews', run: () => pair.serverCerts.rotate(pair.ca.issue('default', 'reviews')) },
    {
      at: 300,
      name: 'phase 1: both trust old+new',
      run: () => {
        pair.clientCerts.rotate(withRoots(pair.clientCerts.current(), both));
        pair.serverCerts.rotate(withRoots(pair.serverCerts.current(), both));
      },
    },
    // What a sidecar does on a bundle change: the new bundle at once, the renewed certificate a
    // moment later, while requests are on sessions still connecting.
    { at: 350, name: 'client: bundle, then a renewed certificate', run: () => pair.clientCerts.rotate(withRoots(pair.ca.issue('default', 'caller'), both)) },
    { at: 351, name: 'client: renewed again', run: () => pair.clientCerts.rotate(withRoots(pair.ca.issue('default', 'caller'), both)) },
    { at: 352, name: 'client: and again', run: () => pair.clientCerts.rotate(withRoots(pair.ca.issue('default', 'caller'), both)) },
    { at: 400, name: 'phase 2: server certificate under the new root', run: () => pair.serverCerts.rotate(withRoots(next.issue('default', 'reviews'), both)) },
    { at: 500, name: 'phase 2: client certificate under the new root', run: () => pair.clientCerts.rotate(withRoots(next.issue('default', 'caller'), both)) },
    {
      at: 600,
      name: 'phase 3: both drop the old root',
      run: () => {
        pair.clientCerts.rotate(withRoots(pair.clientCerts.current(), newRoot));
        pair.serverCerts.rotate(withRoots(pair.serverCerts.current(), newRoot));
      },
    },
    {
      at: 700,
      name: 'both renew under the new root',
      run: () => {
        pair.clientCerts.rotate(next.issue('default', 'caller'));
        pair.serverCerts.rotate(next.issue('default', 'reviews'));
      },
    },
  ];

  let started = 0;
  let completed = 0;
  const failures: string[] = [];
  const taken: string[] = [];
  const worker = async (): Promise<void> => {
    while (started < TOTAL) {
      started++;
      try {
        const r = await request(`http://${CLIENT}:15001/`, { dispatcher: agent, method: 'POST', body: 'x'.repeat(512), headers: { host: HOST } });
        const body = await r.body.text();
        if (r.statusCode !== 200 || body !== 'ok') failures.push(`${r.statusCode} ${body.slice(0, 80)}`);
      } catch (e: unknown) {
        failures.push(e instanceof Error ? e.message : String(e));
      }
      completed++;
      for (const s of steps) {
        if (completed >= s.at && !taken.includes(s.name)) {
          taken.push(s.name);
          s.run();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));

  t.is(completed, TOTAL);
  t.deepEqual(taken, steps.map((s) => s.name), 'every rotation step ran during the load');
  t.deepEqual(failures, [], 'zero failed requests');

  // The rotations took effect: the server now refuses a caller under the old root...
  const refused = await handshakeAccepted(pair.ca.issue('default', 'caller'), newRoot);
  t.false(refused, 'a client certificate from the dropped root is refused');
  // ...and accepts one under the new root, presenting its own certificate from the new root.
  t.true(await handshakeAccepted(next.issue('default', 'caller'), newRoot));
});

/** Whether the inbound listener accepts an h2 TLS connection with `client`'s certificate (it answers its SETTINGS). */
function handshakeAccepted(client: CertBundle, serverRoots: string): Promise<boolean> {
  return new Promise((resolve) => {
    let data = false;
    const socket = tls.connect({
      host: SERVER,
      port: 15006,
      ALPNProtocols: ['h2'],
      key: client.privateKeyPem,
      cert: client.certChainPem,
      ca: serverRoots,
      checkServerIdentity: () => undefined,
    });
    socket.on('data', () => {
      data = true;
      socket.end();
    });
    socket.on('error', () => undefined);
    socket.once('close', () => resolve(data));
  });
}

import tls from 'node:tls';
import test from 'ava';
import { MESH_TLS_SERVER_POLICY } from '../../src/sidecar/mesh-tls-policy.ts';
import { startSidecarPair } from './support-pair.ts';

// Loopback range of this file: 127.164.1.x.
const CLIENT = '127.164.1.1';
const SERVER = '127.164.1.2';

interface Row {
  name: string;
  options: tls.ConnectionOptions;
  /** The negotiated protocol and cipher, or undefined when the handshake must fail. */
  expected: { protocol: string; cipher: string } | undefined;
}

const ROWS: Row[] = [
  { name: 'TLS 1.3 with its default suites', options: {}, expected: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' } },
  {
    name: 'TLS 1.2 with ECDHE-ECDSA-AES128-GCM-SHA256',
    options: { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' },
    expected: { protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256' },
  },
  {
    name: 'TLS 1.2 with ECDHE-ECDSA-CHACHA20-POLY1305',
    options: { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305' },
    expected: { protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-CHACHA20-POLY1305' },
  },
  { name: 'TLS 1.2 with a CBC suite (ECDHE-ECDSA-AES128-SHA)', options: { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' }, expected: undefined },
  { name: 'TLS 1.2 with a CBC suite (ECDHE-ECDSA-AES256-SHA384)', options: { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES256-SHA384' }, expected: undefined },
  { name: 'TLS 1.2 with CCM (ECDHE-ECDSA-AES128-CCM)', options: { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-CCM' }, expected: undefined },
  { name: 'TLS 1.1', options: { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }, expected: undefined },
];

test.serial('the inbound mesh listener offers TLS 1.2+ with ECDHE AEAD suites only', async (t) => {
  const pair = await startSidecarPair({ client: CLIENT, server: SERVER, service: 'reviews', appPort: 9080 });
  t.teardown(() => pair.close());
  // A mesh client certificate from the pair's own CA, so that only the protocol and cipher decide.
  const client = pair.ca.issue('default', 'caller');
  const credentials = { key: client.privateKeyPem, cert: client.certChainPem, ca: client.rootsPem };
  for (const row of ROWS) {
    const got = await new Promise<{ protocol: string; cipher: string } | undefined>((resolve) => {
      const socket = tls.connect({ host: SERVER, port: 15006, ALPNProtocols: ['h2'], ...credentials, checkServerIdentity: () => undefined, ...row.options });
      socket.once('secureConnect', () => {
        resolve({ protocol: socket.getProtocol() ?? '', cipher: socket.getCipher().name });
        socket.destroy();
      });
      socket.once('error', () => resolve(undefined));
    });
    t.deepEqual(got, row.expected, row.name);
  }
});

const CONTROL = '127.164.1.3';

/**
 * Client-initiated TLS 1.2 renegotiation on an established connection (what testssl's `R` probe
 * does): resolves with the error that ended it, or undefined when the server renegotiated. A refusal
 * arrives as the server's no_renegotiation alert, a socket error rather than the callback's.
 */
function renegotiate(options: tls.ConnectionOptions): Promise<Error | undefined> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ ...options, maxVersion: 'TLSv1.2', checkServerIdentity: () => undefined });
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      socket.off('error', reject);
      const timer = setTimeout(() => done(new Error('no answer to the renegotiation within 5 s')), 5_000);
      const done = (err: Error | undefined): void => {
        clearTimeout(timer);
        resolve(err);
        socket.destroy();
      };
      socket.on('error', done);
      socket.renegotiate({ rejectUnauthorized: false }, (err) => done(err ?? undefined));
    });
  });
}

test.serial('client-initiated renegotiation: the inbound mesh listener refuses it, and a server without the policy option renegotiates (control)', async (t) => {
  const pair = await startSidecarPair({ client: CLIENT, server: SERVER, service: 'reviews', appPort: 9080 });
  t.teardown(() => pair.close());
  const client = pair.ca.issue('default', 'caller');
  const credentials = { key: client.privateKeyPem, cert: client.certChainPem, ca: client.rootsPem };
  const refused = await renegotiate({ host: SERVER, port: 15006, ALPNProtocols: ['h2'], ...credentials });
  t.regex(refused?.message ?? 'renegotiated', /no renegotiation/, 'the inbound listener');
  const serverCert = pair.ca.issue('default', 'control');
  for (const [name, secureOptions, renegotiates] of [
    ['the mesh policy', MESH_TLS_SERVER_POLICY.secureOptions, false],
    ['the mesh policy without SSL_OP_NO_RENEGOTIATION', 0, true],
  ] as const) {
    const server = tls.createServer({ ...MESH_TLS_SERVER_POLICY, secureOptions, key: serverCert.privateKeyPem, cert: serverCert.certChainPem }, (s) => {
      s.on('error', () => {});
      s.resume();
    });
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
    await new Promise<void>((resolve) => server.listen(0, CONTROL, resolve));
    const port = (server.address() as { port: number }).port;
    const err = await renegotiate({ host: CONTROL, port, ca: client.rootsPem });
    if (renegotiates) t.is(err, undefined, name);
    else t.regex(err?.message ?? 'renegotiated', /no renegotiation/, name);
  }
});

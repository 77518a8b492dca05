import tls from 'node:tls';
import test from 'ava';
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

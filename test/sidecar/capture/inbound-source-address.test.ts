import http2 from 'node:http2';
import net from 'node:net';
import test from 'ava';
import { createLogger } from '../../../src/common/log.ts';
import type { CertBundle } from '../../../src/sidecar/cert-source.ts';
import { sidecarTcpConnector } from '../../../src/sidecar/tcp-upstream.ts';
import { H2SessionPool } from '../../../src/sidecar/upstream-h2-pool.ts';
import type { ClusterConfig, EndpointConfig } from '../../../src/xds/config-types.ts';

/**
 * A capture sidecar's inbound hops to its app leave from the passthrough source (Istio's
 * 127.0.0.6), which the capture rules never redirect back to the sidecar: raw TCP through the
 * inbound connector and plaintext HTTP/2 (gRPC apps) through the session pool. Real sockets on
 * this file's block 127.137.1.0/24: the "app" on 127.137.1.1, the source 127.137.1.6.
 */
const APP = '127.137.1.1';
const SOURCE = '127.137.1.6';

const noCertificate = (): CertBundle => {
  throw new Error('plaintext hops need no certificate');
};

const cluster: ClusterConfig = { name: 'inbound|9000||', type: 'STATIC', edsServiceName: '', lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 5000 };

function listening(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, APP, () => {
      const a = server.address();
      resolve(typeof a === 'object' && a !== null ? a.port : 0);
    });
  });
}

test('raw TCP to the app: the inbound connector dials from the passthrough source; without it, from the system default', async (t) => {
  const seen: string[] = [];
  const app = net.createServer((s) => {
    seen.push(s.remoteAddress ?? '');
    s.end();
  });
  t.teardown(() => new Promise<void>((r) => app.close(() => r())));
  const port = await listening(app);
  const endpoint: EndpointConfig = { address: { host: APP, port }, weight: 1, healthy: true, tlsMode: 'disabled', priority: 0 };
  for (const source of [SOURCE, undefined]) {
    const c = sidecarTcpConnector(noCertificate, undefined, source).connect(cluster, endpoint);
    const ready = await c.ready;
    t.true(ready.ok);
    // Half-open sockets: end our side too, then wait for the close.
    await new Promise<void>((r) => {
      c.socket.once('close', () => r());
      c.socket.resume();
      c.socket.end();
    });
  }
  t.is(seen[0], SOURCE);
  t.not(seen[1], SOURCE);
});

test('plaintext HTTP/2 to the app: pooled per source address, each dialled from its own', async (t) => {
  const app = http2.createServer((req, res) => {
    res.end(req.socket.remoteAddress ?? '');
  });
  t.teardown(() => new Promise<void>((r) => app.close(() => r())));
  const port = await listening(app);
  const pool = new H2SessionPool(noCertificate, createLogger('test'));
  t.teardown(() => pool.close());
  const ask = async (localAddress?: string): Promise<string> => {
    const call = pool.request(
      { host: APP, port, sni: '', alpn: [], plaintext: true, ...(localAddress !== undefined ? { localAddress } : {}) },
      { method: 'GET', path: '/', headers: { ':method': 'GET', ':path': '/', ':scheme': 'http', ':authority': `${APP}:${port}` }, body: undefined, connectTimeoutMs: 5000 },
    );
    const r = await call.response;
    if (!r.ok) throw new Error(r.errors.message);
    let text = '';
    for await (const chunk of r.value.body) text += String(chunk);
    return text;
  };
  t.is(await ask(SOURCE), SOURCE);
  t.not(await ask(), SOURCE);
  t.is(await ask(SOURCE), SOURCE);
});

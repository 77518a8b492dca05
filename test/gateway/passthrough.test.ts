import { once } from 'node:events';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import test from 'ava';
import { createGatewayDataPlane, type GatewayDataPlane } from '../../src/gateway/data-plane.ts';
import type { EndpointConfig, ProxyConfig } from '../../src/xds/config-types.ts';
import { createLogger } from '../../src/common/log.ts';
import { LISTENER } from '../../src/xds/naming.ts';
import { captureClientHello, type SelfSigned, selfSigned } from './tls-fixtures.ts';

// This file owns 127.62.2.0/24.
const GATEWAY = '127.62.2.1';
const BACKEND = '127.62.2.10';
const REVIEWS = 'outbound_.9080_._.reviews.default.svc.cluster.local';
const RATINGS = 'outbound_.9080_._.ratings.default.svc.cluster.local';
const DETAILS = 'outbound_.9080_._.details.default.svc.cluster.local';
const logger = createLogger('gateway-test');
logger.level = 'silent';

let serverCert: SelfSigned;
let clientCert: SelfSigned;

test.before(() => {
  serverCert = selfSigned('reviews-backend');
  clientCert = selfSigned('productpage-client');
});

function endpoint(port: number, extra: Partial<EndpointConfig> = {}): EndpointConfig {
  return { address: { host: BACKEND, port: 9080 }, inboundPort: port, weight: 1, healthy: true, tlsMode: 'istio', priority: 0, cluster: 'east', ...extra };
}

/** A gateway config exporting `services` (SNI → endpoints); each SNI gets its own cluster. */
function gatewayConfig(services: Record<string, EndpointConfig[]>): ProxyConfig {
  const snis = Object.keys(services);
  return {
    listeners: new Map([
      [
        LISTENER.eastWestGateway,
        {
          name: LISTENER.eastWestGateway,
          address: { host: '0.0.0.0', port: 15443 },
          tlsInspector: true,
          filterChains: snis.map((sni) => ({
            kind: 'tcp' as const,
            name: sni,
            serverNames: [sni],
            applicationProtocols: [],
            statPrefix: sni,
            clusters: [{ name: sni, weight: 1 }],
            weighted: false,
            idleTimeoutMs: 3_600_000,
          })),
        },
      ],
    ]),
    routes: new Map(),
    clusters: new Map(snis.map((sni) => [sni, { name: sni, type: 'EDS' as const, edsServiceName: sni, lbPolicy: 'ROUND_ROBIN' as const, connectTimeoutMs: 1000 }])),
    endpoints: new Map(snis.map((sni) => [sni, { clusterName: sni, endpoints: services[sni] ?? [] }])),
    versions: { listener: '1', route: '1', cluster: '1', endpoint: '1' },
  };
}

/** A TLS echo backend that records each connection's SNI and client certificate subject. */
interface Backend {
  port: number;
  seen: { servername: string | false | null; clientCn: string | undefined }[];
  rawConnections: number;
  close(): Promise<void>;
}

async function startTlsBackend(name: string): Promise<Backend> {
  const seen: Backend['seen'] = [];
  const server = tls.createServer({ key: serverCert.keyPem, cert: serverCert.certPem, requestCert: true, rejectUnauthorized: true, ca: clientCert.certPem }, (sock) => {
    const peer = sock.getPeerCertificate();
    seen.push({ servername: sock.servername, clientCn: typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined });
    sock.on('error', () => {});
    sock.on('data', (d: Buffer) => sock.write(`${name}:${d.toString()}`));
  });
  const sockets: net.Socket[] = [];
  const backend: Backend = {
    port: 0,
    seen,
    rawConnections: 0,
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
  server.on('connection', (s: net.Socket) => {
    backend.rawConnections += 1;
    sockets.push(s);
    s.on('error', () => {});
  });
  server.on('tlsClientError', () => {});
  server.listen(0, BACKEND);
  await once(server, 'listening');
  backend.port = (server.address() as net.AddressInfo).port;
  return backend;
}

async function startPlane(cfg: ProxyConfig | undefined, helloTimeoutMs = 5000): Promise<{ plane: GatewayDataPlane; port: number }> {
  const plane = createGatewayDataPlane({ address: GATEWAY, port: 0, cluster: 'east', helloTimeoutMs, logger });
  if (cfg) plane.applyConfig(cfg);
  return { plane, port: await plane.listen() };
}

function tlsClient(port: number, servername: string, socket?: Duplex): tls.TLSSocket {
  return tls.connect({
    ...(socket ? { socket } : { host: GATEWAY, port }),
    servername,
    ca: serverCert.certPem,
    key: clientCert.keyPem,
    cert: clientCert.certPem,
    checkServerIdentity: () => undefined,
  });
}

/** Sends `msg` over TLS through the gateway and resolves with the reply and the server's CN. */
async function roundTrip(port: number, servername: string, msg: string, socket?: Duplex): Promise<{ reply: string; serverCn: unknown }> {
  const client = tlsClient(port, servername, socket);
  try {
    await once(client, 'secureConnect');
    const serverCn = client.getPeerCertificate().subject?.CN;
    client.write(msg);
    const [data] = (await once(client, 'data')) as [Buffer];
    return { reply: data.toString(), serverCn };
  } finally {
    client.destroy();
  }
}

/** Resolves with the error a TLS client gets, or undefined when it connected. */
async function tlsFailure(port: number, servername: string): Promise<Error | undefined> {
  const client = tlsClient(port, servername);
  try {
    return await new Promise<Error | undefined>((resolve) => {
      client.once('secureConnect', () => resolve(undefined));
      client.once('error', resolve);
      client.once('close', () => resolve(new Error('closed')));
    });
  } finally {
    client.destroy();
  }
}

async function metricValue(plane: GatewayDataPlane, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await plane.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
  return typeof value?.value === 'number' ? value.value : 0;
}

test('an exported SNI gets end-to-end TLS to the backend, which sees the client SNI and certificate', async (t) => {
  const backend = await startTlsBackend('reviews');
  const { plane, port } = await startPlane(gatewayConfig({ [REVIEWS]: [endpoint(backend.port)] }));
  try {
    const r = await roundTrip(port, REVIEWS, 'hello');
    t.is(r.reply, 'reviews:hello');
    t.is(r.serverCn, 'reviews-backend');
    t.deepEqual(backend.seen, [{ servername: REVIEWS, clientCn: 'productpage-client' }]);
    t.is(await metricValue(plane, 'istio_tcp_connections_opened_total', { reporter: 'source', destination_service: 'reviews.default.svc.cluster.local', destination_cluster: 'east', response_flags: '-' }), 1);
    t.true((await metricValue(plane, 'istio_tcp_received_bytes_total', { destination_service: 'reviews.default.svc.cluster.local' })) > 0);
    t.true((await metricValue(plane, 'istio_tcp_sent_bytes_total', { destination_service: 'reviews.default.svc.cluster.local' })) > 0);
  } finally {
    await plane.close();
    await backend.close();
  }
});

test('connections are spread round robin over healthy endpoints only', async (t) => {
  const a = await startTlsBackend('a');
  const b = await startTlsBackend('b');
  const cfg = gatewayConfig({ [REVIEWS]: [endpoint(a.port), endpoint(1, { healthy: false }), endpoint(b.port)] });
  const { plane, port } = await startPlane(cfg);
  try {
    const replies: string[] = [];
    for (let i = 0; i < 4; i++) replies.push((await roundTrip(port, REVIEWS, 'x')).reply);
    t.deepEqual(replies, ['a:x', 'b:x', 'a:x', 'b:x']);
  } finally {
    await plane.close();
    await a.close();
    await b.close();
  }
});

test('an SNI that is not exported is refused with unrecognized_name and never reaches a backend', async (t) => {
  const backend = await startTlsBackend('reviews');
  const { plane, port } = await startPlane(gatewayConfig({ [REVIEWS]: [endpoint(backend.port)] }));
  try {
    const err = await tlsFailure(port, RATINGS);
    t.truthy(err);
    t.regex(String((err as { code?: unknown }).code ?? err?.message), /UNRECOGNIZED_NAME|unrecognized name/i);
    t.is(backend.rawConnections, 0);
    t.is(await metricValue(plane, 'meshfed_gateway_refused_total', { reason: 'unknown_sni' }), 1);
  } finally {
    await plane.close();
    await backend.close();
  }
});

/** Writes `data` on a raw socket and collects everything until the gateway closes. */
async function rawExchange(port: number, data: Buffer): Promise<Buffer> {
  const sock = net.connect({ host: GATEWAY, port });
  const chunks: Buffer[] = [];
  sock.on('data', (d: Buffer) => chunks.push(d));
  sock.on('error', () => {});
  try {
    if (data.length > 0) sock.write(data);
    await once(sock, 'close');
    return Buffer.concat(chunks);
  } finally {
    sock.destroy();
  }
}

test('garbage bytes get a fatal handshake_failure alert and are closed', async (t) => {
  const backend = await startTlsBackend('reviews');
  const { plane, port } = await startPlane(gatewayConfig({ [REVIEWS]: [endpoint(backend.port)] }));
  try {
    const got = await rawExchange(port, Buffer.from('GET / HTTP/1.1\r\nHost: reviews\r\n\r\n'));
    t.deepEqual([...got], [21, 3, 3, 0, 2, 2, 40]);
    t.is(backend.rawConnections, 0);
    t.is(await metricValue(plane, 'meshfed_gateway_refused_total', { reason: 'invalid_hello' }), 1);
  } finally {
    await plane.close();
    await backend.close();
  }
});

test('a ClientHello without SNI is refused with handshake_failure', async (t) => {
  const noSni = await captureClientHello(GATEWAY, {});
  const { plane, port } = await startPlane(gatewayConfig({ [REVIEWS]: [endpoint(1)] }));
  try {
    t.deepEqual([...(await rawExchange(port, noSni))], [21, 3, 3, 0, 2, 2, 40]);
    t.is(await metricValue(plane, 'meshfed_gateway_refused_total', { reason: 'no_sni' }), 1);
  } finally {
    await plane.close();
  }
});

test('a client that never sends a ClientHello is closed after the hello timeout', async (t) => {
  const { plane, port } = await startPlane(gatewayConfig({ [REVIEWS]: [endpoint(1)] }), 150);
  try {
    // A partial record header, then silence.
    const got = await rawExchange(port, Buffer.from([22, 3, 1]));
    t.is(got.length, 0);
    t.is(await metricValue(plane, 'meshfed_gateway_refused_total', { reason: 'hello_timeout' }), 1);
  } finally {
    await plane.close();
  }
});

test('a hello larger than the limit is refused', async (t) => {
  const plane = createGatewayDataPlane({ address: GATEWAY, port: 0, cluster: 'east', maxHelloBytes: 64, logger });
  const port = await plane.listen();
  try {
    const hello = await captureClientHello(GATEWAY, { servername: REVIEWS });
    t.deepEqual([...(await rawExchange(port, hello.subarray(0, 100)))], [21, 3, 3, 0, 2, 2, 40]);
    t.is(await metricValue(plane, 'meshfed_gateway_refused_total', { reason: 'hello_too_large' }), 1);
  } finally {
    await plane.close();
  }
});

test('a backend that is down closes the client, and the gateway serves the next connection', async (t) => {
  const dead = net.createServer();
  dead.listen(0, BACKEND);
  await once(dead, 'listening');
  const deadPort = (dead.address() as net.AddressInfo).port;
  await new Promise((r) => dead.close(r));
  const backend = await startTlsBackend('details');
  const { plane, port } = await startPlane(gatewayConfig({ [REVIEWS]: [endpoint(deadPort)], [DETAILS]: [endpoint(backend.port)] }));
  try {
    t.truthy(await tlsFailure(port, REVIEWS));
    t.is((await roundTrip(port, DETAILS, 'next')).reply, 'details:next');
    t.is(await metricValue(plane, 'istio_tcp_connections_closed_total', { destination_service: 'reviews.default.svc.cluster.local', response_flags: 'UF' }), 1);
  } finally {
    await plane.close();
    await backend.close();
  }
});

test('a service with no endpoint is closed with UH', async (t) => {
  // (An only endpoint that is unhealthy would be dialled: Envoy's panic mode at the default 50% threshold.)
  const { plane, port } = await startPlane(gatewayConfig({ [REVIEWS]: [] }));
  try {
    t.truthy(await tlsFailure(port, REVIEWS));
    t.is(await metricValue(plane, 'istio_tcp_connections_closed_total', { response_flags: 'UH' }), 1);
  } finally {
    await plane.close();
  }
});

/** A duplex over a TCP socket that writes its first chunk (the ClientHello) one byte per tick. */
class DribbleFirstWrite extends Duplex {
  private first = true;
  constructor(private readonly sock: net.Socket) {
    super();
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => this.push(d));
    sock.on('end', () => this.push(null));
    sock.on('error', (e) => this.destroy(e));
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (!this.first) {
      this.sock.write(chunk, cb);
      return;
    }
    this.first = false;
    let i = 0;
    const next = (): void => {
      if (i >= chunk.length) {
        cb();
        return;
      }
      this.sock.write(chunk.subarray(i, i + 1), () => setTimeout(next, 1));
      i += 1;
    };
    next();
  }
  override _final(cb: () => void): void {
    this.sock.end();
    cb();
  }
  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.sock.destroy();
    cb(err);
  }
}

test('a ClientHello written one byte at a time still routes', async (t) => {
  const backend = await startTlsBackend('reviews');
  const { plane, port } = await startPlane(gatewayConfig({ [REVIEWS]: [endpoint(backend.port)] }));
  try {
    const sock = net.connect({ host: GATEWAY, port });
    await once(sock, 'connect');
    const r = await roundTrip(port, REVIEWS, 'slow', new DribbleFirstWrite(sock));
    t.is(r.reply, 'reviews:slow');
    t.is(backend.seen[0]?.servername, REVIEWS);
  } finally {
    await plane.close();
    await backend.close();
  }
});

test('bytes are forwarded unchanged and half-close travels both ways', async (t) => {
  const received: Buffer[] = [];
  const backend = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('data', (d: Buffer) => received.push(d));
    s.on('end', () => s.end(`got ${Buffer.concat(received).length}`));
  });
  backend.listen(0, BACKEND);
  await once(backend, 'listening');
  const backendPort = (backend.address() as net.AddressInfo).port;
  const { plane, port } = await startPlane(gatewayConfig({ [REVIEWS]: [endpoint(backendPort)] }));
  try {
    const hello = await captureClientHello(GATEWAY, { servername: REVIEWS });
    const payload = Buffer.concat([hello, Buffer.from('after-hello')]);
    const sock = net.connect({ host: GATEWAY, port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.end(payload);
    await once(sock, 'end');
    sock.destroy();
    t.is(Buffer.concat(chunks).toString(), `got ${payload.length}`);
    t.true(Buffer.concat(received).equals(payload));
  } finally {
    await plane.close();
    await new Promise((r) => backend.close(r));
  }
});

test('a config swap affects new connections only', async (t) => {
  const backend = await startTlsBackend('reviews');
  const { plane, port } = await startPlane(gatewayConfig({ [REVIEWS]: [endpoint(backend.port)] }));
  const client = tlsClient(port, REVIEWS);
  try {
    await once(client, 'secureConnect');
    plane.applyConfig(gatewayConfig({ [DETAILS]: [endpoint(backend.port)] }));
    client.write('still');
    const [data] = (await once(client, 'data')) as [Buffer];
    t.is(data.toString(), 'reviews:still');
    t.truthy(await tlsFailure(port, REVIEWS));
    t.is(await metricValue(plane, 'meshfed_gateway_refused_total', { reason: 'unknown_sni' }), 1);
  } finally {
    client.destroy();
    await plane.close();
    await backend.close();
  }
});

test('a client that resets mid-stream does not take the gateway down', async (t) => {
  const backend = await startTlsBackend('reviews');
  const { plane, port } = await startPlane(gatewayConfig({ [REVIEWS]: [endpoint(backend.port)] }));
  try {
    const raw = net.connect({ host: GATEWAY, port });
    await once(raw, 'connect');
    const client = tlsClient(port, REVIEWS, raw);
    client.on('error', () => {});
    await once(client, 'secureConnect');
    client.write('x');
    await once(client, 'data');
    raw.resetAndDestroy();
    await once(raw, 'close');
    t.is((await roundTrip(port, REVIEWS, 'after')).reply, 'reviews:after');
    t.is(backend.seen.length, 2);
  } finally {
    await plane.close();
    await backend.close();
  }
});

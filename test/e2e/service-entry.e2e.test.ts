
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import anyTest, { type TestFn } from 'ava';
import { applyYaml, eventually, type FixtureMeshContext, request, useFixtureMesh } from './support/mesh.ts';

/**
 * An Istio ServiceEntry for a service outside the mesh, applied with `meshfed apply` to a running
 * mesh: east's client reaches `external.example` (a plain Node HTTP server, no sidecar) through its
 * sidecar, in plaintext, only while the entry is exported to the client's namespace; and an
 * entry with GRPC and HTTP2 ports, whose servers (grpc-js and node:http2, outside the mesh) the
 * sidecar speaks h2c to, called by a grpc-js client and by an HTTP/1.1 request. Addresses:
 * 127.127.0.0/16 (the mesh), 127.127.200.1 (the external HTTP server), 127.127.200.2 (the external
 * gRPC and h2c servers).
 */
const test = anyTest as TestFn<FixtureMeshContext>;
const FLAGS = 'x-meshfed-response-flags';
const EXTERNAL_ADDRESS = '127.127.200.1';
const EXTERNAL_H2_ADDRESS = '127.127.200.2';

useFixtureMesh(test, { block: 127, network: 'loopback' });

interface Seen {
  method: string;
  url: string;
  host: string;
}

/** The "external" service: answers every request with what it saw. Closed in teardown. */
async function startExternal(t: { teardown(fn: () => Promise<void>): void }): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const s = { method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '' };
    seen.push(s);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ external: true, ...s }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, EXTERNAL_ADDRESS, resolve);
  });
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as AddressInfo).port, seen };
}

const serviceEntry = (port: number, exportTo: string): string => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external, namespace: default}
spec:
  hosts: [external.example]
  location: MESH_EXTERNAL
  ports:
  - {number: ${port}, name: http, protocol: HTTP}
  resolution: STATIC
  endpoints:
  - address: ${EXTERNAL_ADDRESS}
  exportTo: [${exportTo}]
`;

test.serial('a STATIC MESH_EXTERNAL ServiceEntry: 404 NR before it, reached in plaintext through the sidecar with it, 404 NR again once exported elsewhere', async (t) => {
  const { state } = t.context;
  const external = await startExternal(t);
  const url = `http://external.example:${external.port}/status/200?via=sidecar`;
  const call = () => request(state, 'east/default/client', url);

  const before = await call();
  t.is(before.status, 404);
  t.is(before.headers[FLAGS], 'NR');
  t.is(external.seen.length, 0, 'nothing reaches the external server without the ServiceEntry');

  await applyYaml(t, serviceEntry(external.port, '"."'));
  const reached = await eventually('external.example routed', async () => {
    const r = await call();
    return r.status === 200 ? r : undefined;
  });
  t.deepEqual(JSON.parse(reached.body), { external: true, method: 'GET', url: '/status/200?via=sidecar', host: `external.example:${external.port}` });
  t.is(reached.headers[FLAGS], undefined);
  t.true(external.seen.length >= 1);
  t.deepEqual(external.seen.at(-1), { method: 'GET', url: '/status/200?via=sidecar', host: `external.example:${external.port}` });

  // Exported only to another namespace: the client's sidecar no longer knows the host.
  await applyYaml(t, serviceEntry(external.port, 'other'));
  const hidden = await eventually('external.example hidden from default', async () => {
    const r = await call();
    return r.status === 404 ? r : undefined;
  });
  t.is(hidden.headers[FLAGS], 'NR');
  const count = external.seen.length;
  t.is((await call()).status, 404);
  t.is(external.seen.length, count, 'a hidden host sends nothing to the external server');
});

const json = {
  serialize: (v: unknown): Buffer => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer): unknown => JSON.parse(b.toString('utf8')),
};

test.serial('GRPC and HTTP2 ports of a MESH_EXTERNAL ServiceEntry: grpc-js and an HTTP/1.1 app reach servers outside the mesh, which the sidecar speaks h2c to', async (t) => {
  const { state } = t.context;
  const grpcServer = new grpc.Server();
  grpcServer.addService(
    { Echo: { path: '/partner.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize } },
    { Echo: (call: grpc.ServerUnaryCall<{ message?: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { echoed: call.request.message ?? '' }) },
  );
  const grpcPort = await new Promise<number>((resolve, reject) => grpcServer.bindAsync(`${EXTERNAL_H2_ADDRESS}:0`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  t.teardown(() => void grpcServer.forceShutdown());
  const h2c = http2.createServer((req, res) => res.end(JSON.stringify({ version: req.httpVersion, path: req.url })));
  await new Promise<void>((resolve, reject) => {
    h2c.once('error', reject);
    h2c.listen(0, EXTERNAL_H2_ADDRESS, resolve);
  });
  // The sidecar keeps its pooled h2c session open: close() waits for sessions, so end them.
  const sessions = new Set<http2.ServerHttp2Session>();
  h2c.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        h2c.close(() => resolve());
        for (const session of sessions) session.destroy();
      }),
  );
  const h2cPort = (h2c.address() as AddressInfo).port;

  await applyYaml(
    t,
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: partner, namespace: default}
spec:
  hosts: [partner.example]
  location: MESH_EXTERNAL
  ports:
  - {number: ${grpcPort}, name: grpc, protocol: GRPC}
  - {number: ${h2cPort}, name: http2, protocol: HTTP2}
  resolution: STATIC
  endpoints: [{address: ${EXTERNAL_H2_ADDRESS}}]
`,
  );
  const h2 = await eventually('partner.example routed', async () => {
    const r = await request(state, 'east/default/client', `http://partner.example:${h2cPort}/h2c?via=sidecar`);
    return r.status === 200 ? r : undefined;
  });
  t.deepEqual(JSON.parse(h2.body), { version: '2.0', path: '/h2c?via=sidecar' });

  const client = state.clusters.find((c) => c.name === 'east')?.workloads.find((w) => w.name === 'client')?.sidecar;
  if (!client) return t.fail('east/client has no sidecar');
  const g = new grpc.Client(client.outbound, grpc.credentials.createInsecure(), { 'grpc.default_authority': `partner.example:${grpcPort}` });
  try {
    const reply = await new Promise<unknown>((resolve, reject) =>
      g.makeUnaryRequest('/partner.Echo/Echo', json.serialize, json.deserialize, { message: 'out of the mesh' }, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (e, r) =>
        e ? reject(e) : resolve(r),
      ),
    );
    t.deepEqual(reply, { echoed: 'out of the mesh' });
  } finally {
    g.close();
  }
});

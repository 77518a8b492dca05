
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import anyTest, { type TestFn } from 'ava';
import { applyYaml, eventually, type FixtureMeshContext, request, useFixtureMesh } from './support/mesh.ts';

/**
 * An Istio ServiceEntry for a service outside the mesh, applied with `meshfed apply` to a running
 * mesh: east's client reaches `external.example` (a plain Node HTTP server, no sidecar) through its
 * sidecar, in plaintext, only while the entry is exported to the client's namespace. Addresses:
 * 127.127.0.0/16 (the mesh), 127.127.200.1 (the external server).
 */
const test = anyTest as TestFn<FixtureMeshContext>;
const FLAGS = 'x-meshfed-response-flags';
const EXTERNAL_ADDRESS = '127.127.200.1';

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

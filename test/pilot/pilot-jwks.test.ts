import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { WorkloadRegistryFile } from '../../src/common/workload.ts';
import { createPilot } from '../../src/pilot/index.ts';
import { silentLogger } from './support/wait.ts';

/**
 * Pilot fetches the key sets RequestAuthentications name by jwksUri (a real HTTP server on
 * 127.180.4.1), puts them in the snapshot and pushes when one arrives; a URI it cannot fetch is a
 * config error naming the rule's path, and each fetch is counted.
 */

const registry: WorkloadRegistryFile = {
  cluster: 'east',
  gatewayAddress: '127.180.4.9',
  workloads: [
    {
      name: 'orders-v1',
      namespace: 'default',
      serviceAccount: 'orders',
      cluster: 'east',
      address: '127.180.4.2',
      labels: { app: 'orders' },
      service: { name: 'orders', port: 9080, protocol: 'http' },
      sidecar: true,
    },
  ],
};

test('a jwksUri set is fetched into the snapshot; a failing one is a config error at its path', async (t) => {
  const server = http.createServer((req, res) => {
    if (req.url === '/good.json') res.end('{"keys":[{"kty":"EC","kid":"k"}]}');
    else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.180.4.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const base = `http://127.180.4.1:${(server.address() as AddressInfo).port}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'meshfed-jwks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configDir = path.join(dir, 'config');
  mkdirSync(configDir);
  writeFileSync(
    path.join(configDir, 'ra.yaml'),
    `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: default}
spec:
  jwtRules:
  - {issuer: good, jwksUri: "${base}/good.json"}
  - {issuer: gone, jwksUri: "${base}/gone.json"}
`,
  );
  const registryFile = path.join(dir, 'workloads.json');
  writeFileSync(registryFile, JSON.stringify(registry));
  const fetched: boolean[] = [];
  const pushed = new Promise<string>((resolve) => {
    const pilot = createPilot({ cluster: 'east', trustDomain: 'cluster.local', registryFile, configDir, logger: silentLogger, debounceMs: 10, jwks: { retryMs: 60_000, onFetch: (ok) => fetched.push(ok) } });
    void pilot.then((p) => {
      t.teardown(() => p.close());
      p.onPush((_snap, reason) => {
        if (reason.includes('jwks')) resolve(reason);
      });
      started = p;
    });
  });
  let started: Awaited<ReturnType<typeof createPilot>> | undefined;
  await pushed;
  while (fetched.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
  const pilot = started;
  if (!pilot) return t.fail('pilot did not start');
  t.is(pilot.snapshot().jwks.get(`${base}/good.json`), '{"keys":[{"kty":"EC","kid":"k"}]}');
  t.is(pilot.snapshot().jwks.get(`${base}/gone.json`), undefined);
  t.deepEqual([...fetched].sort(), [false, true]);
  const errors = pilot.configErrors().map(String);
  t.deepEqual(errors, [
    `ra.yaml: RequestAuthentication default/jwt: spec.jwtRules[1].jwksUri: cannot fetch ${base}/gone.json: HTTP 404 (tokens of this issuer are not accepted until it is fetched)`,
  ]);
});

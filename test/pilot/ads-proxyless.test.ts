import test from 'ava';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { validateCluster, validateClusterLoadAssignment, validateListener, validateRouteConfiguration } from '../../src/xds/index.ts';
import { runProxylessCall, startEchoServer } from '../support/proxyless-client.ts';
import { decoded } from '../xds/support/decode.ts';
import { runAds } from '../xds/support/ads-harness.ts';
import { TestGenerator } from '../xds/support/fixtures.ts';
import { proxylessResources } from './support/proxyless-resources.ts';

const HOST = 'echo.default.svc.cluster.local';
const PORT = 7070;

test('a proxyless grpc-js-xds client resolves through the AdsServer and reaches the backend', async (t) => {
  const echo = await startEchoServer({ name: 'echo-v1' });
  t.teardown(() => echo.close());
  const res = proxylessResources(HOST, PORT, [{ address: '127.0.0.1', port: echo.port }]);
  const gen = new TestGenerator();
  gen.set(TYPE_URL.listener, [res.listener]);
  gen.set(TYPE_URL.route, [res.route]);
  gen.set(TYPE_URL.cluster, [res.cluster]);
  gen.set(TYPE_URL.endpoint, [res.endpoints]);
  const ads = await runAds(t, { gen });

  const reply = await runProxylessCall({ xdsServer: ads.target, target: `${HOST}:${PORT}`, request: 'hello', timeoutMs: 20_000 });
  t.is((JSON.parse(reply) as { message: string }).message, 'echo-v1: hello');

  // The client identified itself as proxyless and asked for every type by the names we served.
  const proxyless = gen.calls.filter((c) => c.node.type === 'proxyless');
  t.deepEqual([...new Set(proxyless.map((c) => c.typeUrl))].sort(), Object.values(TYPE_URL).sort());
});

test('the hand-built proxyless resources pass our own validators too', (t) => {
  const res = proxylessResources(HOST, PORT, [{ address: '127.0.0.1', port: 1 }]);
  const l = validateListener(decoded(res.listener));
  t.true(l.ok, l.ok ? '' : l.errors.join('; '));
  t.true(validateRouteConfiguration(decoded(res.route)).ok);
  t.true(validateCluster(decoded(res.cluster)).ok);
  t.true(validateClusterLoadAssignment(decoded(res.endpoints)).ok);
});

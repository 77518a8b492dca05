import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { type AdsApiType, AdsClient } from '../../src/xds/index.ts';
import type { Cluster, RouteConfiguration } from '../../src/xds/resources.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { runAds, silent, waitFor } from './support/ads-harness.ts';
import { TestGenerator, basicMesh, edsCluster, loadAssignment } from './support/fixtures.ts';
import { TEST_NODE } from './support/raw-ads-stream.ts';

const { cluster: CDS, endpoint: EDS, listener: LDS, route: RDS } = TYPE_URL;

function startClient(t: ExecutionContext, target: string, apiType: AdsApiType): AdsClient {
  const client = new AdsClient({
    target,
    apiType,
    credentials: grpc.credentials.createInsecure(),
    node: TEST_NODE,
    logger: silent,
    initialBackoffMs: 20,
    maxBackoffMs: 200,
  });
  t.teardown(() => client.close());
  client.start();
  return client;
}

/**
 * Every behaviour below holds for both protocols: state of the world (`GRPC`) and delta
 * (`DELTA_GRPC`, where responses carry only changed resources and name removed ones).
 */
function both(title: string, fn: (t: ExecutionContext, api: AdsApiType) => Promise<void>): void {
  for (const api of ['GRPC', 'DELTA_GRPC'] as const) test(`${api}: ${title}`, (t) => fn(t, api));
}

both('the client converges to the served config and becomes ready', async (t, api) => {
  const s = await runAds(t);
  const client = startClient(t, s.target, api);
  t.false(client.ready());
  t.is(client.current().clusters.size, 0);
  await waitFor(() => client.ready(), 'ready');
  const cfg = client.current();
  t.deepEqual([...cfg.clusters.keys()].sort(), ['c1', 'c2']);
  t.is(cfg.clusters.get('c1')?.edsServiceName, 'svc1');
  t.deepEqual([...cfg.endpoints.keys()].sort(), ['c2', 'svc1']);
  t.deepEqual(cfg.endpoints.get('svc1')?.endpoints.map((e) => e.address), [{ host: '127.0.0.2', port: 8080 }]);
  const chain = cfg.listeners.get('l1')?.filterChains[0];
  t.is(chain?.kind === 'http' ? chain.routeConfigName : undefined, 'r1');
  t.deepEqual(cfg.routes.get('r1')?.virtualHosts[0]?.routes[0]?.clusters, [{ name: 'c1', weight: 1 }]);
  // The server saw every type ACKed with the version it sent.
  await waitFor(() => {
    const types = s.ads.status()[0]?.types;
    return [CDS, EDS, LDS, RDS].every((u) => types?.[u]?.versionAcked !== undefined && types[u]?.versionAcked === types[u]?.versionSent);
  }, 'all four types ACKed');
  const st = s.ads.status()[0];
  t.is(st?.api, api === 'DELTA_GRPC' ? 'delta' : 'sotw');
  t.deepEqual(st?.types[EDS]?.requested, ['c2', 'svc1']);
  t.deepEqual(st?.types[RDS]?.requested, ['r1']);
  t.is(client.current().versions.cluster, st?.types[CDS]?.versionAcked ?? '');
});

both('one invalid resource is NACKed; its last good value stays and valid siblings apply', async (t, api) => {
  const s = await runAds(t);
  const client = startClient(t, s.target, api);
  await waitFor(() => client.ready(), 'ready');
  const goodVersion = client.current().versions.cluster;
  const nacks: { typeUrl: string; errors: string[] }[] = [];
  client.on('nack', (typeUrl, errors) => nacks.push({ typeUrl, errors }));

  const brokenC2 = { ...edsCluster('c2'), connect_timeout: { seconds: '0' } } satisfies Cluster;
  const c1 = { ...edsCluster('c1', 'svc1'), connect_timeout: { seconds: '7' } } satisfies Cluster;
  s.gen.set(CDS, [c1, brokenC2, edsCluster('c3')]);
  s.ads.push(s.gen.push('c2 broken, c1 changed, c3 added'));
  await waitFor(() => nacks.length > 0, 'a NACK');
  t.is(nacks[0]?.typeUrl, CDS);
  t.is(nacks[0]?.errors.length, 1);
  t.regex(nacks[0]?.errors[0] ?? '', /^c2: connect_timeout: must be positive/);
  const cfg = client.current();
  t.is(cfg.clusters.get('c2')?.connectTimeoutMs, 1000, 'c2 keeps its last good value');
  t.is(cfg.clusters.get('c1')?.connectTimeoutMs, 7000, 'valid sibling c1 applied');
  t.truthy(cfg.clusters.get('c3'), 'valid sibling c3 applied');
  t.is(cfg.versions.cluster, goodVersion, 'a NACK does not move the accepted version');
  await waitFor(() => s.ads.status()[0]?.types[CDS]?.nack !== undefined, 'the server recorded the NACK');
  t.deepEqual(Object.keys(s.ads.status()[0]?.types[CDS]?.nackedResources ?? {}), ['c2']);
  await waitFor(() => s.ads.status()[0]?.types[EDS]?.requested.includes('c3') === true, 'EDS widened to c3');

  // A NACKed response removes nothing; the next good one does.
  s.gen.set(CDS, [c1]);
  s.ads.push(s.gen.push('c2 and c3 removed'));
  await waitFor(() => !client.current().clusters.has('c2'), 'c2 removed');
  t.deepEqual([...client.current().clusters.keys()], ['c1']);
  t.not(client.current().versions.cluster, goodVersion);
  t.false(client.current().endpoints.has('c2'), 'EDS narrowed with the clusters');
  await waitFor(() => s.ads.status()[0]?.types[CDS]?.nack === undefined, 'the server saw the ACK');
  await waitFor(() => s.ads.status()[0]?.types[EDS]?.requested.join() === 'svc1', 'the server saw EDS narrowed to svc1');
});

both('after the server restarts the client re-requests every type and converges', async (t, api) => {
  const first = await runAds(t);
  const client = startClient(t, first.target, api);
  const events: string[] = [];
  client.on('connected', () => events.push('connected'));
  client.on('disconnected', () => events.push('disconnected'));
  await waitFor(() => client.ready(), 'ready');
  first.stop();
  await waitFor(() => events.includes('disconnected'), 'disconnected');
  t.true(client.ready(), 'the last good config is kept while disconnected');

  const gen = new TestGenerator();
  basicMesh(gen, 15001, 9999);
  gen.set(EDS, [loadAssignment('svc1', [['127.0.0.5', 9999]]), loadAssignment('c2', [['127.0.0.3', 9090]])]);
  const second = await runAds(t, { port: first.port, gen });
  await waitFor(() => client.current().endpoints.get('svc1')?.endpoints[0]?.address.port === 9999, 'new endpoints');
  // Every type was asked for again on the new stream, EDS and RDS by name from the start.
  const firstCalls = gen.calls.slice(0, 4).map((c) => c.typeUrl).sort();
  t.deepEqual(firstCalls, [CDS, EDS, LDS, RDS].sort());
  const st = second.ads.status()[0];
  t.deepEqual(st?.types[EDS]?.requested, ['c2', 'svc1']);
  t.deepEqual(st?.types[RDS]?.requested, ['r1']);
  t.true(events.filter((e) => e === 'connected').length >= 2);
});

both('an invalid listener is NACKed and the last good one is kept', async (t, api) => {
  const gen = new TestGenerator();
  basicMesh(gen);
  const s = await runAds(t, { gen });
  const client = startClient(t, s.target, api);
  await waitFor(() => client.ready(), 'ready');
  const nacks: string[][] = [];
  client.on('nack', (_u, errors) => nacks.push(errors));
  // A listener whose only chain has no filters: invalid.
  gen.set(LDS, [{ '@type': LDS, name: 'l1', address: { socket_address: { address: '127.0.0.1', port_value: 15001 } }, filter_chains: [{ filters: [] }] }]);
  s.ads.push(s.gen.push('broken listener'));
  await waitFor(() => nacks.length > 0, 'NACK');
  t.regex(nacks[0]?.[0] ?? '', /^l1: filter_chains\[0\]\.filters: exactly one network filter/);
  t.is(client.current().listeners.get('l1')?.filterChains.length, 1);
  t.true(client.ready());
});

both('resources whose bytes equal the accepted ones are not decoded or validated again', async (t, api) => {
  const gen = new TestGenerator();
  basicMesh(gen);
  gen.set(CDS, [edsCluster('c1', 'svc1'), edsCluster('c2'), edsCluster('c3')]);
  gen.set(EDS, [loadAssignment('svc1', [['127.0.0.2', 8080]]), loadAssignment('c2', [['127.0.0.3', 9090]]), loadAssignment('c3', [['127.0.0.4', 9090]])]);
  const s = await runAds(t, { gen });
  const client = startClient(t, s.target, api);
  await waitFor(() => client.ready(), 'ready');
  const before = client.decodedResources().cluster;
  t.is(before, 3, 'the first response decodes every cluster');
  const configs: number[] = [];
  client.on('config', (cfg) => configs.push(cfg.clusters.get('c2')?.connectTimeoutMs ?? -1));

  // SotW: the push carries all three clusters, only c2 differs (delta: only c2).
  gen.set(CDS, [edsCluster('c1', 'svc1'), { ...edsCluster('c2'), connect_timeout: { seconds: '5' } }, edsCluster('c3')]);
  s.ads.push(gen.push('c2 changed'));
  await waitFor(() => client.current().clusters.get('c2')?.connectTimeoutMs === 5000, 'c2 updated');
  t.is(client.decodedResources().cluster, before + 1, 'only the changed cluster was decoded');
  t.deepEqual([...client.current().clusters.keys()].sort(), ['c1', 'c2', 'c3']);
  t.deepEqual(configs, [5000]);

  // A bad c3 next to an unchanged c1 and c2: c3 is decoded, NACKed, and keeps its last good value;
  // sending the same bad bytes again is validated (and NACKed) again, since they were never accepted.
  const nacks: string[][] = [];
  client.on('nack', (_u, errors) => nacks.push(errors));
  gen.set(CDS, [edsCluster('c1', 'svc1'), { ...edsCluster('c2'), connect_timeout: { seconds: '5' } }, { ...edsCluster('c3'), connect_timeout: { seconds: '0' } }]);
  s.ads.push(gen.push('c3 broken'));
  await waitFor(() => nacks.length === 1, 'a NACK');
  t.regex(nacks[0]?.[0] ?? '', /^c3: connect_timeout: must be positive/);
  t.is(client.decodedResources().cluster, before + 2);
  t.is(client.current().clusters.get('c3')?.connectTimeoutMs, 1000);
  s.stop();
  const again = await runAds(t, { gen, port: s.port });
  await waitFor(() => nacks.length === 2, 'the same bad bytes NACKed again after a reconnect');
  t.regex(nacks[1]?.[0] ?? '', /^c3: connect_timeout: must be positive/);
  t.is(client.decodedResources().cluster, before + 3, 'only c3 decoded again; c1 and c2 matched by bytes');
  t.is(again.ads.status().length, 1);
});

both('a changed route configuration re-validates only its changed virtual hosts, to what a full validation gives', async (t, api) => {
  const gen = new TestGenerator();
  basicMesh(gen);
  const vh = (name: string, prefix: string, cluster = 'c1'): NonNullable<RouteConfiguration['virtual_hosts']>[number] => ({
    name,
    domains: [`${name}.example`],
    routes: [{ match: { prefix }, route: { cluster } }],
  });
  const table = (hosts: NonNullable<RouteConfiguration['virtual_hosts']>): RouteConfiguration => ({ '@type': RDS, name: 'r1', virtual_hosts: hosts });
  gen.set(RDS, [table([vh('a', '/'), vh('b', '/'), vh('c', '/')])]);
  const s = await runAds(t, { gen });
  const client = startClient(t, s.target, api);
  await waitFor(() => client.ready(), 'ready');
  t.is(client.decodedVirtualHosts(), 0, 'the first response is validated in full');

  // b changes, d is added; a and c keep their bytes.
  gen.set(RDS, [table([vh('a', '/'), vh('b', '/v2', 'c2'), vh('c', '/'), vh('d', '/')])]);
  s.ads.push(gen.push('b changed, d added'));
  await waitFor(() => client.current().routes.get('r1')?.virtualHosts.length === 4, 'the new table');
  t.is(client.decodedVirtualHosts(), 2, 'only b and d were decoded');
  // A client that never saw the old table validates the new one in full: the same result.
  const fresh = startClient(t, s.target, api);
  await waitFor(() => fresh.ready(), 'the fresh client ready');
  t.is(fresh.decodedVirtualHosts(), 0);
  t.deepEqual(client.current().routes.get('r1'), fresh.current().routes.get('r1'));
  t.is(client.current().routes.get('r1')?.virtualHosts[1]?.routes[0]?.clusters[0]?.name, 'c2');

  // An invalid virtual host: the whole resource is validated again, so the NACK reads as always.
  const nacks: string[][] = [];
  client.on('nack', (_u, errors) => nacks.push(errors));
  const freshNacks: string[][] = [];
  gen.set(RDS, [table([vh('a', '/'), { name: 'b', domains: [], routes: [] }, vh('c', '/'), vh('d', '/')])]);
  s.ads.push(gen.push('b broken'));
  await waitFor(() => nacks.length === 1, 'a NACK');
  const third = startClient(t, s.target, api);
  third.on('nack', (_u, errors) => freshNacks.push(errors));
  await waitFor(() => freshNacks.length === 1, 'the fresh client NACKs too');
  t.deepEqual(nacks[0], freshNacks[0]);
  t.regex(nacks[0]?.[0] ?? '', /^r1: virtual_hosts\[1\]\.domains: empty/);
  t.is(client.current().routes.get('r1')?.virtualHosts[1]?.routes[0]?.clusters[0]?.name, 'c2', 'the last good table stays');
});

test('DELTA_GRPC: a new stream tells the server what the client holds; unchanged resources are not decoded again, vanished ones are removed', async (t) => {
  const first = await runAds(t);
  const client = startClient(t, first.target, 'DELTA_GRPC');
  await waitFor(() => client.ready(), 'ready');
  const decoded = client.decodedResources();
  first.stop();
  // The new server has the same clusters, listener and routes; svc1 moved and c2's assignment is gone.
  const gen = new TestGenerator();
  basicMesh(gen);
  gen.set(EDS, [loadAssignment('svc1', [['127.0.0.6', 8080]])]);
  const second = await runAds(t, { port: first.port, gen });
  await waitFor(() => client.current().endpoints.get('svc1')?.endpoints[0]?.address.host === '127.0.0.6', 'svc1 moved');
  await waitFor(() => !client.current().endpoints.has('c2'), 'c2 removed by name');
  const now = client.decodedResources();
  t.is(now.cluster, decoded.cluster, 'no cluster decoded again');
  t.is(now.listener, decoded.listener);
  t.is(now.route, decoded.route);
  t.is(now.endpoint, decoded.endpoint + 1, 'only svc1 decoded again');
  t.is(second.ads.status()[0]?.api, 'delta');
  t.deepEqual(second.ads.status()[0]?.types[EDS]?.resourceNames, ['svc1']);
});

test('DELTA_GRPC: a removed cluster is dropped and its endpoints unsubscribed', async (t) => {
  const s = await runAds(t);
  const client = startClient(t, s.target, 'DELTA_GRPC');
  await waitFor(() => client.ready(), 'ready');
  s.gen.set(CDS, [edsCluster('c1', 'svc1')]);
  s.ads.push(s.gen.push('c2 removed'));
  await waitFor(() => !client.current().clusters.has('c2'), 'c2 removed');
  t.false(client.current().endpoints.has('c2'));
  await waitFor(() => s.ads.status()[0]?.types[EDS]?.requested.join() === 'svc1', 'the server saw EDS unsubscribe c2');
  t.deepEqual(s.ads.status()[0]?.types[EDS]?.resourceNames, ['svc1']);
  t.true(client.ready());
});

test('an unknown apiType is refused with its name', (t) => {
  const err = t.throws(() => new AdsClient({ target: '127.0.0.1:1', credentials: grpc.credentials.createInsecure(), node: TEST_NODE, apiType: 'REST' as AdsApiType }));
  t.regex(err?.message ?? '', /invalid apiType: must be one of GRPC, DELTA_GRPC/);
});

test('close() lets the process exit', async (t) => {
  const s = await runAds(t);
  const script = fileURLToPath(new URL('./support/ads-client-child.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, s.target], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => resolve(-1), 30_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  t.is(out.trim(), 'ready');
  t.is(code, 0, 'the child exited on its own after close()');
});

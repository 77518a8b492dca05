import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { initCa } from '../../src/citadel/index.ts';
import { type MeshState, writeState } from '../../src/cli/runner/state-file.ts';
import { startMemoryDiscoveryServer } from '../../src/federation/index.ts';
import { meshfed, startMeshfed } from '../support/cli.ts';

/**
 * `/ready` of the control-plane processes reflects their real state (istiod-style): 503 with the
 * failing check named until the federation controller has synced once with its discovery backend,
 * then 200 with every check true. Real processes (the compiled CLI), real sockets on this file's
 * loopback block 127.77.0.0/16; each test has its own addresses.
 */

const PRETTY_READY_TRUE = /"ready": true/;

interface Ready {
  status: number;
  text: string;
  body: { ready?: unknown; checks?: Record<string, unknown> };
}

async function getReady(url: string): Promise<Ready | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    const text = await res.text();
    return { status: res.status, text, body: JSON.parse(text) as Ready['body'] };
  } catch {
    return undefined;
  }
}

/** Polls `url` until `until` holds for its answer; fails with the last answer and the process output. */
async function pollReady(
  t: ExecutionContext,
  url: string,
  until: (r: Ready) => boolean,
  output: () => string,
  timeoutMs = 60_000, // a deadline for a loaded 2-core CI machine, not a performance bound
): Promise<Ready> {
  const deadline = Date.now() + timeoutMs;
  let last: Ready | undefined;
  for (;;) {
    last = await getReady(url);
    if (last && until(last)) return last;
    if (Date.now() > deadline) {
      t.log(output());
      throw new Error(`${url}: condition not met in ${timeoutMs} ms; last answer: ${last ? `${last.status} ${last.text}` : 'none'}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** A cluster `east` on disk: its CA (under one root), an empty registry, tokens and config folder. */
async function clusterFiles(t: ExecutionContext, gatewayAddress: string) {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-ready-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await initCa({ dir: path.join(dir, 'ca'), clusters: ['east'], trustDomain: 'cluster.local' });
  const files = {
    stateDir: dir,
    caDir: path.join(dir, 'ca', 'east'),
    rootCert: path.join(dir, 'ca', 'east', 'root-cert.pem'),
    registryFile: path.join(dir, 'workloads.json'),
    tokensFile: path.join(dir, 'tokens.json'),
    configDir: path.join(dir, 'config'),
    importsDir: path.join(dir, 'imports'),
  };
  await writeFile(files.registryFile, JSON.stringify({ cluster: 'east', gatewayAddress, workloads: [] }));
  await writeFile(files.tokensFile, JSON.stringify({ tokens: {} }));
  await mkdir(files.configDir);
  return files;
}

const notSynced = /^no full sync with the memory discovery yet: .*ECONNREFUSED/;

test('controlplane /ready is 503 naming federation until its discovery backend answers, then 200', async (t) => {
  const address = '127.77.1.1';
  const discovery = { host: '127.77.1.100', port: 18_577 };
  const f = await clusterFiles(t, '127.77.1.2');
  const cp = startMeshfed(t, [
    'controlplane', '--cluster', 'east', '--address', address, '--ca-dir', f.caDir, '--registry-file', f.registryFile,
    '--tokens-file', f.tokensFile, '--config-dir', f.configDir, '--gateway-address', '127.77.1.2',
    '--discovery', 'memory', '--memory-discovery', `http://${discovery.host}:${discovery.port}`,
  ]);
  const url = `http://${address}:15014/ready`;

  const down = await pollReady(t, url, (r) => typeof r.body.checks?.['federation'] === 'string' && notSynced.test(String(r.body.checks['federation'])), cp.output);
  t.is(down.status, 503);
  t.is(down.body.ready, false);
  t.like(down.body.checks, { xds: true, ca: true });
  t.regex(String(down.body.checks?.['federation']), notSynced);

  // `meshfed status` shows the failing check of a control plane that answers but is not ready.
  const state: MeshState = {
    name: 'ready', runnerPid: process.pid, stateDir: f.stateDir, trustDomain: 'cluster.local', discovery: 'memory', network: 'loopback',
    memoryDiscovery: `http://${discovery.host}:${discovery.port}`,
    clusters: [{
      name: 'east', netns: null, configDir: f.configDir,
      controlPlane: { address, xds: `${address}:15010`, xdsTls: `${address}:15012`, monitoring: `http://${address}:15014` },
      gateway: { address: '127.77.1.2:15443', admin: 'http://127.77.1.2:15000', metrics: 'http://127.77.1.2:15090/stats/prometheus' },
      consul: null, workloads: [],
    }],
  };
  await writeState(state);
  const status = await meshfed(['status', '--state-dir', f.stateDir, '--json']);
  const components = (JSON.parse(status.stdout) as { components: { component: string; ready: boolean; detail: string }[] }).components;
  const controlplane = components.find((c) => c.component === 'controlplane');
  t.false(controlplane?.ready);
  t.regex(controlplane?.detail ?? '', /^not ready \(503\): federation: no full sync with the memory discovery yet: .*ECONNREFUSED/);

  const server = await startMemoryDiscoveryServer(discovery);
  t.teardown(() => server.close());
  const up = await pollReady(t, url, (r) => r.status !== 503, cp.output);
  t.is(up.status, 200);
  t.deepEqual(up.body, { ready: true, checks: { xds: true, ca: true, federation: true } });
  t.regex(up.text, PRETTY_READY_TRUE);
  t.false(cp.exited(), 'still running');
});

test('federation /ready is 503 naming federation until its discovery backend answers, then 200', async (t) => {
  const monitoring = { host: '127.77.2.1', port: 15_016 };
  const discovery = { host: '127.77.2.100', port: 18_577 };
  const f = await clusterFiles(t, '127.77.2.2');
  const fed = startMeshfed(t, [
    'federation', '--cluster', 'east', '--registry-file', f.registryFile, '--config-dir', f.configDir,
    '--root-cert', f.rootCert, '--imports-dir', f.importsDir,
    '--discovery', 'memory', '--memory-discovery', `http://${discovery.host}:${discovery.port}`,
    '--monitoring', `${monitoring.host}:${monitoring.port}`,
  ]);
  const url = `http://${monitoring.host}:${monitoring.port}/ready`;

  const down = await pollReady(t, url, (r) => notSynced.test(String(r.body.checks?.['federation'])), fed.output);
  t.is(down.status, 503);
  t.is(down.body.ready, false);
  t.deepEqual(Object.keys(down.body.checks ?? {}), ['federation']);

  const server = await startMemoryDiscoveryServer(discovery);
  t.teardown(() => server.close());
  const up = await pollReady(t, url, (r) => r.status !== 503, fed.output);
  t.is(up.status, 200);
  t.deepEqual(up.body, { ready: true, checks: { federation: true } });
  t.regex(up.text, PRETTY_READY_TRUE);
});

test('pilot with an imports folder is ready without any federation controller running', async (t) => {
  // Split mode: Pilot serves the imports folder's last content; a crashed `meshfed federation`
  // must not make it unready, so it has no federation check.
  const address = '127.77.3.1';
  const f = await clusterFiles(t, '127.77.3.2');
  const pilot = startMeshfed(t, [
    'pilot', '--cluster', 'east', '--address', address, '--ca-dir', f.caDir, '--registry-file', f.registryFile,
    '--config-dir', f.configDir, '--imports-dir', f.importsDir,
  ]);
  const up = await pollReady(t, `http://${address}:15014/ready`, () => true, pilot.output);
  t.is(up.status, 200);
  t.deepEqual(up.body, { ready: true, checks: { xds: true, ca: true } });
  t.regex(up.text, PRETTY_READY_TRUE);
});

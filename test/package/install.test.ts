import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { PACKAGE_ROOT } from '../../src/cli/package-paths.ts';
import { assertFreshBuild } from '../support/build.ts';
import { startMeshfedUp, type UpProcessHandle } from '../support/meshfed-up.ts';

/**
 * The package as a user gets it: `npm pack`, `npm install -g` of the tarball into a temporary
 * prefix, then the installed `meshfed` runs a user's own two-cluster topology from a folder that
 * has nothing to do with the checkout — `up`, `status`, `curl`, then Ctrl-C, leaving no process
 * behind. Real Consul is found the way an installed package finds it (PATH, then the user's tools
 * folder). Addresses: 127.123.0.0/16.
 */
const run = promisify(execFile);
const USER_MESH = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'user-mesh');

interface Installed {
  scratch: string;
  bin: string;
  pkgDir: string;
  env: NodeJS.ProcessEnv;
}

async function packAndInstall(scratch: string): Promise<Installed> {
  assertFreshBuild();
  // npm test built dist/ already; --ignore-scripts keeps `prepack` from rebuilding it under the
  // feet of test files running at the same time.
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], { cwd: PACKAGE_ROOT, maxBuffer: 32 << 20 });
  const [info] = JSON.parse(packed.stdout) as { filename: string }[];
  if (!info) throw new Error(`npm pack printed no tarball: ${packed.stdout}`);
  const prefix = path.join(scratch, 'prefix');
  await run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', path.join(scratch, info.filename)], {
    cwd: scratch,
    timeout: 180_000,
    maxBuffer: 32 << 20,
  });
  // The user's PATH: this Node (20 or 24, whichever runs the suite), the prefix's bin, the system.
  const env = { ...process.env, PATH: [path.dirname(process.execPath), path.join(prefix, 'bin'), '/usr/local/bin', '/usr/bin', '/bin'].join(':') };
  return { scratch, bin: path.join(prefix, 'bin', 'meshfed'), pkgDir: path.join(prefix, 'lib', 'node_modules', 'meshfed'), env };
}

test('npm pack → npm install -g → meshfed up of a user topology from an unrelated folder; status, curl, Ctrl-C leaves nothing', async (t) => {
  t.timeout(360_000);
  const scratch = await mkdtemp(path.join(tmpdir(), 'meshfed-install-'));
  let mesh: UpProcessHandle | undefined;
  t.teardown(async () => {
    if (mesh) await mesh.stop();
    await rm(scratch, { recursive: true, force: true });
  });
  const pkg = await packAndInstall(scratch);
  const meshfed = (args: string[], cwd: string) => run(pkg.bin, args, { cwd, env: pkg.env, timeout: 30_000 });

  // What was installed: compiled JavaScript only, no TypeScript loader among its dependencies.
  const manifest = JSON.parse(await readFile(path.join(pkg.pkgDir, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
  t.false('tsx' in manifest.dependencies, 'tsx is not a runtime dependency');
  t.is((await meshfed(['--version'], '/')).stdout.trim(), manifest.version);

  const tools = JSON.parse((await meshfed(['tools', '--json'], '/')).stdout) as { tools: { name: string; path: string | null }[] };
  const consul = tools.tools.find((x) => x.name === 'consul');
  t.truthy(consul?.path, 'the installed package finds the real consul');

  const user = path.join(scratch, 'my-mesh');
  await cp(USER_MESH, user, { recursive: true });
  const stateDir = path.join(user, 'state');
  mesh = await startMeshfedUp({
    label: 'install 123',
    command: { file: pkg.bin, args: [] },
    cwd: user,
    env: pkg.env,
    stateDir,
    args: ['-f', 'mesh.yaml', '--state-dir', 'state', '--discovery', 'consul', '--address-block', '123'],
    readyTimeoutMs: 120_000,
  });

  // Every meshfed process runs the installed package's compiled entry, by absolute path.
  const entry = path.join(pkg.pkgDir, 'dist', 'cli', 'main.js');
  const meshfedProcs = mesh.processes().filter((p) => !p.name.endsWith('/consul') && p.name !== 'south/shop/api-v1/app');
  t.true(meshfedProcs.length >= 5, `control planes, gateways, sidecars and echo: ${meshfedProcs.map((p) => p.name).join(', ')}`);
  for (const p of meshfedProcs) {
    const argv = (await readFile(`/proc/${p.pid}/cmdline`, 'utf8')).split('\0');
    t.is(argv[1], entry, `${p.name} runs ${entry}`);
    t.false(argv.some((a) => a.includes('tsx')), `${p.name} runs no TypeScript loader`);
  }

  const status = await meshfed(['status', '--state-dir', 'state', '--json'], user);
  const parsed = JSON.parse(status.stdout) as { allReady: boolean };
  t.true(parsed.allReady);

  const reply = await meshfed(['curl', '--state-dir', 'state', '--from', 'north/shop/web', 'http://api.shop:9000/orders'], user);
  const body = JSON.parse(reply.stdout) as { app: string; path: string; caller: string | null };
  t.is(body.app, 'api');
  t.is(body.path, '/orders');
  t.regex(body.caller ?? '', /URI=spiffe:\/\/shop\.example\/ns\/shop\/sa\/web/, 'mTLS across clusters carried the caller identity');

  const stopping = mesh;
  mesh = undefined;
  t.deepEqual(await stopping.stop(), [], 'Ctrl-C stopped every process meshfed up started');
});

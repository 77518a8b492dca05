import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { PACKAGE_ROOT } from '../../src/cli/package-paths.ts';
import { assertFreshBuild, MESHFED_BIN } from '../support/build.ts';
import { alive } from '../support/meshfed-up.ts';

/** The ways into the CLI a user takes, each as a real child process. */
const run = promisify(execFile);
const version = (JSON.parse(await readFile(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

test.before(() => assertFreshBuild());

test('npx meshfed inside the checkout runs the compiled CLI', async (t) => {
  const help = await run('npx', ['meshfed', '--help'], { cwd: PACKAGE_ROOT });
  t.regex(help.stdout, /^Usage: meshfed /);
  t.regex(help.stdout, /\n {2}up \[options\]/);
  t.is((await run('npx', ['meshfed', '--version'], { cwd: PACKAGE_ROOT })).stdout.trim(), version);
});

test('node /abs/path/bin/meshfed.js works from /', async (t) => {
  const r = await run(process.execPath, [MESHFED_BIN, '--version'], { cwd: '/' });
  t.is(r.stdout.trim(), version);
  const tools = await run(process.execPath, [MESHFED_BIN, 'tools', '--json'], { cwd: '/' }).catch((e: { stdout: string }) => e);
  t.regex(tools.stdout, /"toolsDir": "\//);
});

test("a component's own --version option is not taken for the program's (echo --version v2)", async (t) => {
  const r = await run(process.execPath, [MESHFED_BIN, 'echo', '--help'], { cwd: '/' });
  t.regex(r.stdout, /--version <v>/);
  t.notRegex(r.stdout, /-V, --version/);
});

test('the tools folder is the user cache, never inside the package', async (t) => {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: '/tmp/meshfed-xdg-test', PATH: '/usr/bin:/bin' };
  delete env['MESHFED_TOOLS_DIR'];
  const r = await run(process.execPath, [MESHFED_BIN, 'tools', '--json'], { cwd: '/', env }).catch((e: { stdout: string }) => e);
  const doc = JSON.parse(r.stdout) as { toolsDir: string };
  t.is(doc.toolsDir, '/tmp/meshfed-xdg-test/meshfed/tools');
});

test('the package exports one entry per component, and nothing deeper', async (t) => {
  const consumer = await mkdtemp(path.join(tmpdir(), 'meshfed-consumer-'));
  t.teardown(() => rm(consumer, { recursive: true, force: true }));
  await mkdir(path.join(consumer, 'node_modules'));
  await symlink(PACKAGE_ROOT, path.join(consumer, 'node_modules', 'meshfed'));
  const table: [string, string][] = [
    ['meshfed/sidecar', 'startSidecar'],
    ['meshfed/gateway', 'startGateway'],
    ['meshfed/pilot', 'createPilot'],
    ['meshfed/citadel', 'initCa'],
    ['meshfed/mixer', 'startMixer'],
    ['meshfed/federation', 'startFederation'],
    ['meshfed/xds', 'AdsClient'],
  ];
  const script = `const out = {}; for (const [s, name] of ${JSON.stringify(table)}) out[s] = typeof (await import(s))[name];` +
    `try { await import('meshfed/dist/cli/main.js'); out.deep = 'imported'; } catch (e) { out.deep = e.code; } console.log(JSON.stringify(out));`;
  const r = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: consumer });
  const got = JSON.parse(r.stdout) as Record<string, string>;
  t.deepEqual(got, { ...Object.fromEntries(table.map(([s]) => [s, 'function'])), deep: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
});

/** PIDs whose parent is `pid`, read from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // Gone while reading.
    }
  }
  return out;
}

test('Ctrl-C while meshfed up is still starting stops everything it started, Consul included (127.124.0.0/16)', async (t) => {
  t.timeout(120_000);
  const stateDir = await mkdtemp(path.join(tmpdir(), 'meshfed-cancel-'));
  const child = spawn(process.execPath, [MESHFED_BIN, 'up', '-f', path.join(PACKAGE_ROOT, 'examples', 'demo', 'mesh.yaml'), '--state-dir', stateDir, '--discovery', 'consul', '--address-block', '124'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid ?? 0;
  const seen = new Set<number>();
  t.teardown(async () => {
    for (const p of [pid, ...seen]) if (alive(p)) process.kill(p, 'SIGKILL');
    await rm(stateDir, { recursive: true, force: true });
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  // Interrupt once Consul runs and the control planes are starting, before anything is ready.
  for (let i = 0; i < 600 && !out.includes('✓ consul'); i++) await new Promise((r) => setTimeout(r, 50));
  t.regex(out, /✓ consul/, 'consul started');
  for (const p of childrenOf(pid)) seen.add(p);
  t.true(seen.size >= 2, `children before Ctrl-C: ${[...seen].join(', ')}`);
  child.kill('SIGINT');
  t.is(await exited, 130);
  await new Promise((r) => setTimeout(r, 500));
  t.deepEqual([...seen].filter(alive), [], 'no child left running');
  t.false(existsSync(path.join(stateDir, 'state.json')), 'a cancelled start-up writes no state');
});

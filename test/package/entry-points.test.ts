import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { PACKAGE_ROOT } from '../../src/cli/package-paths.ts';
import { assertFreshBuild, MESHFED_BIN } from '../support/build.ts';

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

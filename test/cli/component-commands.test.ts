import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { meshfed } from '../support/cli.ts';

/**
 * Component commands that cannot start end with one line naming the command and the cause, and a
 * non-zero exit: never a stack trace, never a process left running.
 */
async function scratch(t: import('ava').ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-cmd-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('pilot without its CA files names every missing file', async (t) => {
  const dir = await scratch(t);
  const r = await meshfed([
    'pilot', '--cluster', 'east', '--address', '127.63.2.1', '--ca-dir', path.join(dir, 'ca'),
    '--registry-file', path.join(dir, 'workloads.json'), '--config-dir', path.join(dir, 'config'),
  ]);
  t.is(r.code, 1);
  const files = ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem'].map((f) => path.join(dir, 'ca', f));
  t.is(r.stderr.trim(), `meshfed pilot: cannot read ${files.join(', ')}`);
});

test('pilot checks --registries against --registry-file and --kubeconfig before starting', async (t) => {
  const dir = await scratch(t);
  const base = ['pilot', '--cluster', 'east', '--address', '127.63.2.1', '--ca-dir', path.join(dir, 'ca'), '--config-dir', path.join(dir, 'config')];
  const noFile = await meshfed(base);
  t.is(noFile.code, 1);
  t.is(noFile.stderr.trim(), '--registries with file (the default) needs --registry-file');
  const stray = await meshfed([...base, '--registries', 'kube,federation', '--registry-file', path.join(dir, 'workloads.json')]);
  t.is(stray.code, 1);
  t.is(stray.stderr.trim(), '--registry-file is read only by the file registry: add file to --registries or drop it');
  const kube = await meshfed([...base, '--registry-file', path.join(dir, 'workloads.json'), '--kubeconfig', path.join(dir, 'kubeconfig')]);
  t.is(kube.code, 1);
  t.is(kube.stderr.trim(), '--kubeconfig is read only by the kube registry and the crd config store: add kube to --registries or crd to --config-stores, or drop it');
});

test.serial('pilot checks --config-stores against --config-dir before starting', async (t) => {
  const dir = await scratch(t);
  const base = ['pilot', '--cluster', 'east', '--address', '127.63.2.1', '--ca-dir', path.join(dir, 'ca'), '--registry-file', path.join(dir, 'workloads.json')];
  const noDir = await meshfed(base);
  t.is(noDir.code, 1);
  t.is(noDir.stderr.trim(), '--config-stores with file (the default) needs --config-dir');
  const stray = await meshfed([...base, '--config-stores', 'crd', '--config-dir', path.join(dir, 'config')]);
  t.is(stray.code, 1);
  t.is(stray.stderr.trim(), '--config-dir is read only by the file config store: add file to --config-stores or drop it');
  const namespace = await meshfed([...base, '--config-dir', path.join(dir, 'config'), '--namespace', 'mesh']);
  t.is(namespace.code, 1);
  t.is(namespace.stderr.trim(), '--namespace is read only in Kubernetes: add kube to --registries or crd to --config-stores, or drop it');
});

const CITADEL_AUTH: [string, string[], string][] = [
  ['--auth bootstrap without --tokens-file', [], '--tokens-file is required with --auth bootstrap (the default)'],
  ['--auth kube with --tokens-file', ['--auth', 'kube', '--tokens-file', 't.json'], '--tokens-file is used only with --auth bootstrap'],
  ['--token-audience with --auth bootstrap', ['--tokens-file', 't.json', '--token-audience', 'x'], '--token-audience is used only with --auth jwt or kube'],
  ['an empty --token-audience', ['--auth', 'kube', '--token-audience', ''], 'invalid --token-audience "": must be a non-empty audience without spaces'],
];
for (const [what, extra, message] of CITADEL_AUTH) {
  // Serial: each case starts the CLI, and this file's concurrent tests already start several at once.
  test.serial(`controlplane refuses ${what}`, async (t) => {
    const dir = await scratch(t);
    const r = await meshfed([
      'controlplane', '--cluster', 'east', '--address', '127.63.2.1', '--ca-dir', path.join(dir, 'ca'), '--registry-file', path.join(dir, 'w.json'),
      '--config-dir', dir, '--gateway-address', '127.63.2.2', ...extra,
    ]);
    t.is(r.code, 1);
    t.is(r.stderr.trim(), message);
  });
}

test('federation without a root certificate names the file', async (t) => {
  const dir = await scratch(t);
  const r = await meshfed([
    'federation', '--cluster', 'east', '--registry-file', path.join(dir, 'workloads.json'), '--config-dir', path.join(dir, 'config'),
    '--root-cert', path.join(dir, 'root-cert.pem'), '--imports-dir', path.join(dir, 'imports'), '--consul', '127.63.2.1:8500',
  ]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^meshfed federation: ENOENT: no such file or directory, open '.*root-cert\.pem'\n$/);
  t.notRegex(r.stderr, /\n\s+at /, 'no stack trace');
});

test('federation refuses --discovery none, and sidecar a malformed --mixer address', async (t) => {
  const dir = await scratch(t);
  const fed = await meshfed([
    'federation', '--cluster', 'east', '--registry-file', path.join(dir, 'w.json'), '--config-dir', dir,
    '--root-cert', path.join(dir, 'r.pem'), '--imports-dir', dir, '--discovery', 'none',
  ]);
  t.is(fed.code, 1);
  t.is(fed.stderr.trim(), '--discovery none: the federation controller needs consul or memory');
  await writeFile(path.join(dir, 'r.pem'), 'roots');
  await writeFile(path.join(dir, 't'), 'token');
  const sidecar = await meshfed([
    'sidecar', '--cluster', 'east', '--workload', 'w', '--service-account', 'sa', '--address', '127.63.2.10',
    '--service-port', '8080', '--control-plane', '127.63.2.1', '--roots', path.join(dir, 'r.pem'),
    '--token-file', path.join(dir, 't'), '--mixer', 'no-port-here',
  ]);
  t.is(sidecar.code, 1);
  t.is(sidecar.stderr.trim(), 'invalid --mixer: expected host:port, got "no-port-here"');
});

const CONSUL_SECURITY: [string, (dir: string) => string[], RegExp][] = [
  ['a missing --consul-token-file', (d) => ['--consul-token-file', path.join(d, 'nope.token')], /^--consul-token-file .*nope\.token: ENOENT/],
  ['an empty --consul-token-file', (d) => ['--consul-token-file', path.join(d, 'empty.token')], /^--consul-token-file .*empty\.token: the file is empty$/],
  ['--consul-client-cert without its key', (d) => ['--consul-cacert', path.join(d, 'r.pem'), '--consul-client-cert', path.join(d, 'r.pem')], /^--consul-client-cert and --consul-client-key go together$/],
  ['--consul-tls-server-name without HTTPS', () => ['--consul-tls-server-name', 'server.east.consul'], /^--consul-tls-server-name needs --consul-cacert \(HTTPS\)$/],
];
for (const [what, extra, message] of CONSUL_SECURITY) {
  test.serial(`federation refuses ${what}`, async (t) => {
    const dir = await scratch(t);
    await writeFile(path.join(dir, 'empty.token'), '\n');
    await writeFile(path.join(dir, 'r.pem'), '-----BEGIN CERTIFICATE-----\n');
    const r = await meshfed([
      'federation', '--cluster', 'east', '--registry-file', path.join(dir, 'w.json'), '--config-dir', dir,
      '--root-cert', path.join(dir, 'r.pem'), '--imports-dir', dir, '--consul', '127.63.2.1:8500', ...extra(dir),
    ]);
    t.is(r.code, 1);
    t.regex(r.stderr.trim(), message);
  });
}

test('pilot refuses a mesh config with an unsupported field, naming its path, and a trust domain that disagrees', async (t) => {
  const dir = await scratch(t);
  const mesh = path.join(dir, 'mesh.yaml');
  await writeFile(mesh, 'trustDomain: east.example\nextensionProviders:\n- name: z\n  zipkin: {service: zipkin, port: 9411}\n');
  const base = ['pilot', '--cluster', 'east', '--address', '127.180.200.1', '--ca-dir', path.join(dir, 'ca'), '--registry-file', path.join(dir, 'w.json'), '--config-dir', dir];
  const bad = await meshfed([...base, '--mesh-config', mesh]);
  t.is(bad.code, 1);
  t.true(bad.stderr.includes(`${mesh}: MeshConfig: extensionProviders[0].zipkin: provider kind zipkin is not supported`), bad.stderr);
  await writeFile(mesh, 'trustDomain: east.example\n');
  const differs = await meshfed([...base, '--mesh-config', mesh, '--trust-domain', 'west.example']);
  t.is(differs.code, 1);
  t.is(differs.stderr.trim(), "--trust-domain west.example differs from the mesh config's trustDomain east.example: drop one");
});

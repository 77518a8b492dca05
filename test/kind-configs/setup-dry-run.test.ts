import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { parse, parseAllDocuments } from 'yaml';
import { assertFreshBuild } from '../support/build.ts';
import { kindConfigProblems } from '../support/kind-config-schema.ts';
import { kubeSchemaProblems } from '../support/kube-models.ts';

/**
 * A dry run of kind-configs/setup.sh: recording stand-ins for kind, kubectl and docker
 * (fixtures/recording-*) come first on PATH, so the script runs for real (with the real meshfed
 * CLI for `ca init` and `install`) and every command it would send to a cluster is recorded. The
 * tests assert the commands, their order and their arguments; a second run shows the steps are
 * idempotent; a backend that never answers v2 shows the failure path. Binds nothing.
 */
const run = promisify(execFile);
const FIXTURES = path.resolve('test/kind-configs/fixtures');
const SETUP = path.resolve('kind-configs/setup.sh');
const REPO = path.resolve('.');

interface Command {
  line: number;
  tool: string;
  args: string[];
}

interface DryRun {
  code: number;
  stdout: string;
  stderr: string;
  commands: Command[];
  dir: string;
  work: string;
  /** What `apply -f -` read at `line`. */
  stdin(line: number): Promise<string>;
}

interface Doc {
  kind?: string;
  metadata?: { name: string };
  data?: Record<string, string>;
}

/** The consul-federation ConfigMaps applied through stdin in `cluster`. */
async function federationMaps(r: DryRun, cluster: string): Promise<Doc[]> {
  const out: Doc[] = [];
  for (const c of r.commands.filter((x) => ctx(x) === cluster && has(x, 'apply', '-f', '-'))) {
    for (const d of parseAllDocuments(await r.stdin(c.line))) {
      const doc = d.toJS() as Doc | null;
      if (doc?.metadata?.name === 'consul-federation') out.push(doc);
    }
  }
  return out;
}

async function sandbox(t: ExecutionContext): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  // A run takes seconds alone; the tests run one at a time so that a busy machine slows them, never stalls them.
  t.timeout(240_000);
  const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-kind-dry-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'bin'));
  await mkdir(path.join(dir, 'record'));
  for (const tool of ['kind', 'kubectl', 'docker']) await symlink(path.join(FIXTURES, `recording-${tool}`), path.join(dir, 'bin', tool));
  const env = {
    ...process.env,
    PATH: `${path.join(dir, 'bin')}:${path.dirname(process.execPath)}:${process.env['PATH'] ?? ''}`,
    RECORDING_DIR: path.join(dir, 'record'),
    MESHFED_KIND_WORK: path.join(dir, 'work'),
    MESHFED_KIND_ATTEMPTS: '5',
    MESHFED_KIND_RETRY_DELAY: '0',
  };
  return { dir, env };
}

async function setup(dir: string, env: NodeJS.ProcessEnv, args: string[] = [], extra: NodeJS.ProcessEnv = {}): Promise<DryRun> {
  assertFreshBuild();
  let code = 0;
  let stdout = '';
  let stderr = '';
  try {
    const r = await run('bash', [SETUP, ...args], { env: { ...env, ...extra }, timeout: 120_000 });
    stdout = r.stdout;
    stderr = r.stderr;
  } catch (e: unknown) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    code = typeof err.code === 'number' ? err.code : -1;
    stdout = err.stdout ?? '';
    stderr = err.stderr ?? '';
  }
  const text = await readFile(path.join(dir, 'record', 'commands.log'), 'utf8').catch(() => '');
  const commands = text
    .split('\n')
    .filter((l) => l !== '')
    .map((l, i) => {
      const [tool, ...rest] = l.split('\t');
      return { line: i + 1, tool: tool ?? '', args: rest };
    });
  return { code, stdout, stderr, commands, dir, work: path.join(dir, 'work'), stdin: (line) => readFile(path.join(dir, 'record', `stdin-${line}.yaml`), 'utf8') };
}

const has = (c: Command, ...words: string[]): boolean => words.every((w) => c.args.includes(w));
const ctx = (c: Command): string | undefined => c.args[c.args.indexOf('--context') + 1];
function index(r: DryRun, pred: (c: Command) => boolean, what: string): number {
  const i = r.commands.findIndex(pred);
  if (i === -1) throw new Error(`not run: ${what}`);
  return i;
}

test.serial('setup.sh runs the nine steps in order, with the arguments each needs', async (t) => {
  const { dir, env } = await sandbox(t);
  const r = await setup(dir, env);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'Grafana: http://172.18.255.33:3000  (or: kubectl --context kind-east -n meshfed-system port-forward svc/grafana 3000:3000)\n');
  for (let s = 1; s <= 9; s++) t.true(r.stderr.includes(`setup: step ${s}/9:`), `step ${s} announced`);

  // 1: both clusters, from the committed configs, before anything else touches them.
  const creates = r.commands.filter((c) => c.tool === 'kind' && has(c, 'create', 'cluster'));
  t.deepEqual(creates.map((c) => c.args).sort(), [
    ['create', 'cluster', '--name', 'east', '--config', path.join(REPO, 'kind-configs/east.yaml'), '--wait', '180s'],
    ['create', 'cluster', '--name', 'west', '--config', path.join(REPO, 'kind-configs/west.yaml'), '--wait', '180s'],
  ]);
  const firstKubectl = index(r, (c) => c.tool === 'kubectl', 'kubectl');
  t.true(creates.every((c) => c.line - 1 < firstKubectl));

  // 2: MetalLB in each cluster, then disjoint pools inside the kind network; the gateway's own /32.
  const pools = new Map<string, string[]>();
  for (const c of r.commands.filter((x) => x.tool === 'kubectl' && has(x, 'apply', '-f', '-'))) {
    const docs = parseAllDocuments(await r.stdin(c.line)).map((d) => d.toJS() as { kind: string; metadata: { name: string }; spec: { addresses?: string[] } } | null);
    for (const d of docs) if (d?.kind === 'IPAddressPool') pools.set(`${ctx(c)} ${d.metadata.name}`, d.spec.addresses ?? []);
  }
  t.deepEqual(Object.fromEntries(pools), {
    'kind-east meshfed-gateway': ['172.18.255.32/32'],
    'kind-east meshfed': ['172.18.255.33-172.18.255.63'],
    'kind-west meshfed-gateway': ['172.18.255.64/32'],
    'kind-west meshfed': ['172.18.255.65-172.18.255.95'],
  });
  for (const cluster of ['kind-east', 'kind-west']) {
    const manifest = index(r, (c) => ctx(c) === cluster && c.args.some((a) => /metallb-native\.yaml$/.test(a)), `MetalLB in ${cluster}`);
    const ready = index(r, (c) => ctx(c) === cluster && has(c, 'wait', 'deployment/controller'), `MetalLB wait in ${cluster}`);
    t.true(manifest < ready);
  }

  // 3: build once, load into both, before meshfed is installed.
  const build = index(r, (c) => c.tool === 'docker' && c.args[0] === 'build', 'docker build');
  t.deepEqual(r.commands[build]?.args, ['build', '-t', 'meshfed:0.1.0', REPO]);
  const loads = r.commands.filter((c) => c.tool === 'kind' && has(c, 'load', 'docker-image'));
  t.deepEqual(loads.map((c) => c.args), [
    ['load', 'docker-image', 'meshfed:0.1.0', '--name', 'east'],
    ['load', 'docker-image', 'meshfed:0.1.0', '--name', 'west'],
  ]);
  const firstInstall = index(r, (c) => c.args.some((a) => a.endsWith('-install.yaml')), 'meshfed install apply');
  t.true(loads.every((c) => build < c.line - 1 && c.line - 1 < firstInstall));

  // 4: one root, one intermediate per cluster, as the Secret `cacerts`, before the install.
  const root = await readFile(path.join(r.work, 'ca', 'root-cert.pem'), 'utf8');
  for (const name of ['east', 'west']) {
    t.is(await readFile(path.join(r.work, 'ca', name, 'root-cert.pem'), 'utf8'), root, `${name} shares the root`);
    const secret = index(r, (c) => ctx(c) === `kind-${name}` && has(c, 'create', 'secret', 'generic', 'cacerts'), `cacerts in ${name}`);
    t.deepEqual(r.commands[secret]?.args.filter((a) => a.startsWith('--from-file=')), [
      ...['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem'].map((f) => `--from-file=${f}=${path.join(r.work, 'ca', name, f)}`),
    ]);
    t.true(secret < index(r, (c) => ctx(c) === `kind-${name}` && c.args.some((a) => a.endsWith(`${name}-install.yaml`)), `install ${name}`));
  }
  t.not(await readFile(path.join(r.work, 'ca', 'east', 'ca-cert.pem'), 'utf8'), await readFile(path.join(r.work, 'ca', 'west', 'ca-cert.pem'), 'utf8'));

  // 5: Consul's WAN peers are the other cluster's node; the install is the committed rendering.
  for (const [name, peer] of [['east', '172.18.0.3'], ['west', '172.18.0.2']] as const) {
    const maps = await federationMaps(r, `kind-${name}`);
    t.is(maps.length, 1);
    t.deepEqual(await kubeSchemaProblems(maps[0] as never), []);
    t.deepEqual(JSON.parse(maps[0]?.data?.['federation.json'] ?? ''), { datacenter: name, primary_datacenter: 'east', retry_join_wan: [peer] });
    t.is(await readFile(path.join(r.work, `${name}-install.yaml`), 'utf8'), await readFile(`kind-configs/rendered/${name}.yaml`, 'utf8'));
    // Every webhook of the install gets the mesh's root as its caBundle, after the install is applied.
    const installed = index(r, (c) => ctx(c) === `kind-${name}` && c.args.some((a) => a.endsWith(`${name}-install.yaml`)), `install ${name}`);
    const rendered = parseAllDocuments(await readFile(`kind-configs/rendered/${name}.yaml`, 'utf8')).map((d) => d.toJS() as Doc & { webhooks?: unknown[] });
    for (const conf of rendered.filter((d) => d.kind?.endsWith('WebhookConfiguration'))) {
      const target = `${conf.kind?.toLowerCase()}/${conf.metadata?.name}`;
      const patch = index(r, (c) => ctx(c) === `kind-${name}` && has(c, 'patch', target, '--type=json'), `caBundle of ${target} in ${name}`);
      t.true(installed < patch, `${target} patched after the install`);
      const ops = JSON.parse(r.commands[patch]?.args[(r.commands[patch]?.args.indexOf('-p') ?? -2) + 1] ?? '') as { op: string; path: string; value: string }[];
      t.deepEqual(
        ops.map((o) => [o.op, o.path, Buffer.from(o.value, 'base64').toString('utf8')]),
        (conf.webhooks ?? []).map((_, i) => ['add', `/webhooks/${i}/clientConfig/caBundle`, root]),
        target,
      );
    }
    const consul = index(r, (c) => ctx(c) === `kind-${name}` && c.args.some((a) => a.endsWith('addons/consul.yaml')), `consul in ${name}`);
    const grafana = index(r, (c) => ctx(c) === `kind-${name}` && c.args.some((a) => a.endsWith('addons/grafana.yaml')), `grafana in ${name}`);
    const dashboards = index(r, (c) => ctx(c) === `kind-${name}` && has(c, 'create', 'configmap', 'grafana-dashboards-meshfed'), `dashboards in ${name}`);
    t.true(consul < grafana && dashboards < grafana);
    const rollouts = r.commands.filter((c) => ctx(c) === `kind-${name}` && has(c, 'rollout', 'status') && has(c, '-n', 'meshfed-system')).map((c) => c.args[c.args.indexOf('status') + 1]);
    t.deepEqual(rollouts, ['statefulset/consul-server', 'deployment/meshfed-controlplane', 'deployment/meshfed-eastwestgateway', 'deployment/prometheus', 'deployment/grafana']);
  }

  // 6 → 7 → 8 → 9: federation checked, then the demo, then curl from the frontend, then Grafana.
  const wan = index(r, (c) => has(c, 'exec', 'consul', 'members', '-wan'), 'consul members -wan');
  const demo = index(r, (c) => c.args.some((a) => a.endsWith('demo/backend.yaml')), 'demo');
  const curl = index(r, (c) => has(c, 'exec', 'deploy/frontend', 'curl'), 'curl');
  const grafana = index(r, (c) => has(c, 'get', 'service', 'grafana'), 'grafana address');
  t.true(wan < demo && demo < curl && curl < grafana);
  const established = index(r, (c) => has(c, 'wait', '--for=condition=Established'), 'CRDs established');
  t.true(established < demo);
  const applied = (cluster: string) =>
    r.commands.filter((c) => ctx(c) === cluster && has(c, 'apply')).flatMap((c) => c.args.filter((a) => a.includes('/demo/')).map((a) => path.basename(a)));
  t.deepEqual(applied('kind-east'), ['namespace.yaml', 'backend.yaml', 'backend-v1.yaml', 'frontend.yaml']);
  t.deepEqual(applied('kind-west'), ['namespace.yaml', 'backend.yaml', 'backend-v2.yaml']);
  t.deepEqual(r.commands[curl]?.args, [
    '--context', 'kind-east', '-n', 'demo', 'exec', 'deploy/frontend', '-c', 'frontend', '--',
    'curl', '-sS', '--max-time', '3', 'http://backend.demo.svc.cluster.local:8080/',
  ]);
  t.false(r.commands.some((c) => has(c, 'export', 'logs')), 'no logs exported on success');
});

test.serial('a second run is idempotent: clusters, namespaces and the CA are kept', async (t) => {
  const { dir, env } = await sandbox(t);
  const first = await setup(dir, env);
  t.is(first.code, 0, first.stderr);
  const rootBefore = await readFile(path.join(first.work, 'ca', 'root-cert.pem'), 'utf8');
  const mtime = (await stat(path.join(first.work, 'ca', 'root-cert.pem'))).mtimeMs;
  const second = await setup(dir, env);
  t.is(second.code, 0, second.stderr);
  const again = second.commands.slice(first.commands.length);
  t.false(again.some((c) => c.tool === 'kind' && has(c, 'create', 'cluster')), 'no cluster created twice');
  t.false(again.some((c) => has(c, 'create', 'namespace')), 'no namespace created twice');
  t.true(second.stderr.includes('setup: cluster east exists: kept'));
  t.is(await readFile(path.join(second.work, 'ca', 'root-cert.pem'), 'utf8'), rootBefore);
  t.is((await stat(path.join(second.work, 'ca', 'root-cert.pem'))).mtimeMs, mtime);
});

test.serial('when v2 never answers, setup fails saying what it saw and what to do, and exports the logs', async (t) => {
  const { dir, env } = await sandbox(t);
  const r = await setup(dir, env, [], { RECORDING_BACKEND_VERSIONS: 'v1' });
  t.is(r.code, 1);
  t.true(r.stderr.includes('setup: FAILED: after 5 requests the frontend reached only: v1\n'), r.stderr);
  t.regex(r.stderr, /setup: what to do: v2 lives in west: check its east-west gateway/);
  t.deepEqual(
    r.commands.filter((c) => has(c, 'export', 'logs')).map((c) => c.args),
    ['east', 'west'].map((n) => ['export', 'logs', path.join(r.work, 'logs', n), '--name', n]),
  );
  t.false(r.commands.some((c) => has(c, 'get', 'service', 'grafana')), 'stops at the failed step');
});

test.serial('--clusters 3 generates the third kind config on the same pattern, with its own CIDRs and address slice', async (t) => {
  const { dir, env } = await sandbox(t);
  const r = await setup(dir, env, ['--clusters', '3']);
  t.is(r.code, 0, r.stderr);
  const config: unknown = parse(await readFile(path.join(r.work, 'kind-cluster3.yaml'), 'utf8'));
  t.deepEqual(kindConfigProblems(config), []);
  t.like(config, { name: 'cluster3', networking: { podSubnet: '10.130.0.0/16', serviceSubnet: '10.131.0.0/16' } });
  const install = await readFile(path.join(r.work, 'cluster3-install.yaml'), 'utf8');
  t.true(install.startsWith('# meshfed install --cluster cluster3 --network network-cluster3 --gateway-address 172.18.255.96\n'));
  const [east] = await federationMaps(r, 'kind-east');
  t.deepEqual((JSON.parse(east?.data?.['federation.json'] ?? '') as { retry_join_wan: string[] }).retry_join_wan, ['172.18.0.3', '172.18.0.4']);
});

test.serial('bad arguments end with one line and what to do, before any command', async (t) => {
  const { dir, env } = await sandbox(t);
  for (const [args, message] of [
    [['--clusters', '9'], "setup: FAILED: --clusters must be 2..6, got '9'\nsetup: what to do: pick 2 (the demo) up to 6 clusters\n"],
    [['--nodes', '2'], 'setup: FAILED: unknown argument --nodes\nsetup: what to do: kind-configs/setup.sh [--clusters N]\n'],
  ] as const) {
    const r = await setup(dir, env, [...args]);
    t.is(r.code, 1);
    t.is(r.stderr, message);
    t.deepEqual(r.commands, []);
  }
});

test.serial('teardown.sh deletes the clusters setup.sh made and its work folder; a second teardown has nothing to do', async (t) => {
  const { dir, env } = await sandbox(t);
  const r = await setup(dir, env);
  t.is(r.code, 0, r.stderr);
  const teardown = async (): Promise<{ stderr: string; commands: Command[] }> => {
    const before = (await readFile(path.join(dir, 'record', 'commands.log'), 'utf8')).split('\n').filter((l) => l !== '').length;
    const out = await run('bash', [path.resolve('kind-configs/teardown.sh')], { env });
    const lines = (await readFile(path.join(dir, 'record', 'commands.log'), 'utf8')).split('\n').filter((l) => l !== '');
    return { stderr: out.stderr, commands: lines.slice(before).map((l, i) => ({ line: before + i + 1, tool: l.split('\t')[0] ?? '', args: l.split('\t').slice(1) })) };
  };
  const first = await teardown();
  t.deepEqual(first.commands.filter((c) => has(c, 'delete')).map((c) => c.args), [
    ['delete', 'cluster', '--name', 'east'],
    ['delete', 'cluster', '--name', 'west'],
  ]);
  await t.throwsAsync(stat(r.work), { code: 'ENOENT' });
  const second = await teardown();
  t.deepEqual(second.commands.map((c) => c.args), [['get', 'clusters']]);
  t.is(second.stderr, 'teardown: done\n');
});

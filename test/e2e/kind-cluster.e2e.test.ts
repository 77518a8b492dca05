import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import test from 'ava';
import { parseAllDocuments, stringify } from 'yaml';
import { meshfed } from '../support/cli.ts';

/**
 * Opt-in tests against real Kubernetes; no API server or container engine runs on the project's
 * machines, so without the switches they are reported as skipped, by name, with the reason.
 * - KUBECONFIG set: `meshfed install` output goes through the real API server's validation
 *   (`kubectl apply --dry-run=server`; cluster-scoped objects as they are, namespaced ones into a
 *   throw-away namespace this test creates and deletes). Nothing else in the cluster changes.
 * - MESHFED_KIND=1 (needs kind, kubectl, docker): the whole kind-configs/setup.sh, which ends by
 *   curling both backend versions across the clusters, then kind-configs/teardown.sh.
 * Binds nothing on this machine.
 */
const run = promisify(execFile);
const SERVER_TITLE = 'real cluster: the API server accepts every object meshfed install prints (server-side dry run)';
const KIND_TITLE = 'real kind: kind-configs/setup.sh brings up two clusters and both backend versions answer, then teardown.sh';
const kubeconfig = process.env['KUBECONFIG'] ?? '';
const kind = process.env['MESHFED_KIND'] === '1';

/** `kubectl <args>` with `input` on stdin. */
function kubectl(args: string[], input: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('kubectl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const collect = (c: Buffer): void => {
      out += c.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (e) => resolve({ code: -1, out: e.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, out }));
    child.stdin.end(input);
  });
}

if (kubeconfig === '') {
  test.skip(`${SERVER_TITLE} — skipped: KUBECONFIG is not set (point it at a cluster to run this test)`, () => {});
} else {
  test(SERVER_TITLE, async (t) => {
    t.timeout(180_000);
    const ns = `meshfed-e2e-${randomBytes(4).toString('hex')}`;
    await run('kubectl', ['create', 'namespace', ns]);
    t.teardown(() => run('kubectl', ['delete', 'namespace', ns, '--wait=false']).then(() => undefined));
    const r = await meshfed(['install', '--cluster', 'e2e', '--network', 'network-e2e', '--gateway-address', '192.0.2.10', '--namespace', ns]);
    t.is(r.code, 0, r.stderr);
    const objs = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string });
    const yaml = (list: { kind: string }[]) => list.map((o) => `---\n${stringify(o)}`).join('');
    const server = await kubectl(['apply', '--dry-run=server', '-f', '-'], yaml(objs.filter((o) => o.kind !== 'Namespace')));
    t.is(server.code, 0, server.out);
  });
}

if (!kind) {
  test.skip(`${KIND_TITLE} — skipped: MESHFED_KIND is not 1 (set MESHFED_KIND=1 on a machine with kind, kubectl and docker)`, () => {});
} else {
  test(KIND_TITLE, async (t) => {
    t.timeout(30 * 60_000);
    t.teardown(async () => {
      await run('bash', ['kind-configs/teardown.sh'], { timeout: 600_000 });
    });
    const r = await run('bash', ['kind-configs/setup.sh', '--clusters', '2'], { timeout: 25 * 60_000, maxBuffer: 16 * 1024 * 1024 });
    t.regex(r.stderr, /setup: both backend versions answer: ok/);
    t.regex(r.stdout, /^Grafana: http:\/\/\S+:3000/m);
  });
}

import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { initCa } from '../../src/citadel/index.ts';
import { canUseNetns } from '../../src/cli/runner/netns.ts';
import { captureInitArgs } from '../../src/webhooks/index.ts';
import { MESHFED_BIN } from '../support/build.ts';
import { type MeshfedProcess, startMeshfed } from '../support/cli.ts';
import { eventually, samples } from './support/mesh.ts';

/**
 * Transparent capture for real, without Kubernetes: each pod is its own network namespace (a veth
 * to a bridge), `meshfed capture-init` (the compiled CLI, with the exact arguments the injector
 * writes) installs the iptables rules inside it, the sidecar runs as uid/gid 1337 with
 * `--capture`, and unmodified apps (curl for HTTP, a plain Node socket for raw TCP) talk to
 * service addresses that exist nowhere: only capture can carry them to the mesh. The server side
 * proves it went through the mesh: the caller's SPIFFE ID arrives at the HTTP app (XFCC) and in
 * the destination sidecar's istio_requests_total / istio_tcp_* metrics. Inbound, a plaintext
 * client outside the mesh reaches the app's port through the rules' redirect to 15006 and the
 * sidecar's passthrough by original destination port. Outbound to a destination the mesh does not
 * know (an "external" server in a namespace of its own, outside the mesh): under the default
 * ALLOW_ANY raw TCP and HTTP reach it through PassthroughCluster (the original destination), and
 * the caller's sidecar names PassthroughCluster in its metrics; under a REGISTRY_ONLY Sidecar
 * the same calls are refused (BlackHoleCluster: closed, or 502 for HTTP on a mesh HTTP port).
 * Needs root. Without it the test is reported as skipped, by name, with the reason, unless
 * MESHFED_REQUIRE_NETNS=1 (set by .ci/run), which makes the missing root a failure.
 * Addresses: 198.19.137.0/24 (bridge .1 = the control plane, pods from .10) and 198.18.137.0/24
 * (service addresses, never assigned to anything; 198.18.137.200 is the external server's), inside
 * namespaces this test makes.
 */
const run = promisify(execFile);
const TITLE = 'transparent capture: unmodified apps in network namespaces reach the mesh over HTTP and raw TCP through iptables REDIRECT';
const netns = await canUseNetns();
const required = process.env['MESHFED_REQUIRE_NETNS'] === '1';

const BRIDGE = 'mfcap0';
const CONTROL_PLANE = '198.19.137.1';
const PROXY_UID = 1337;
const CLIENT_SPIFFE = 'spiffe://cluster.local/ns/default/sa/client';

interface Pod {
  name: string;
  netns: string;
  hostVeth: string;
  address: string;
  service: { name: string; port: number; protocol: 'http' | 'tcp' };
}

const PODS: readonly Pod[] = [
  { name: 'client', netns: 'meshfed-cap-client', hostVeth: 'mfcap-client', address: '198.19.137.10', service: { name: 'client', port: 8080, protocol: 'http' } },
  { name: 'web', netns: 'meshfed-cap-web', hostVeth: 'mfcap-web', address: '198.19.137.11', service: { name: 'web', port: 9080, protocol: 'http' } },
  { name: 'echo', netns: 'meshfed-cap-echo', hostVeth: 'mfcap-echo', address: '198.19.137.12', service: { name: 'echo', port: 9000, protocol: 'tcp' } },
];
/** Service addresses the apps dial: nothing has them, nothing routes them but the default route. */
const WEB_VIP = '198.18.137.80';
const ECHO_VIP = '198.18.137.81';
/**
 * The external server: its own namespace on the bridge, reached by the pods on-link (a /32 route
 * each), so no forwarding on the host is needed. Port 9080 is a mesh HTTP port (web's), so a
 * request there is routed by Host and falls to allow_any / block_all; 7000 and 7080 are ports no
 * service has, so they take virtualOutbound's default chain.
 */
const EXTERNAL = { netns: 'meshfed-cap-ext', hostVeth: 'mfcap-ext', address: '198.18.137.200', tcpPort: 7000, httpPort: 7080, meshHttpPort: 9080 } as const;

async function ipQuiet(args: string[]): Promise<void> {
  await run('ip', args).catch(() => undefined);
}

async function tearDownNetwork(): Promise<void> {
  for (const p of [...PODS, EXTERNAL]) {
    await ipQuiet(['netns', 'del', p.netns]);
    await ipQuiet(['link', 'del', p.hostVeth]);
  }
  await ipQuiet(['link', 'del', BRIDGE]);
}

async function setUpNetwork(t: ExecutionContext): Promise<void> {
  await tearDownNetwork();
  t.teardown(tearDownNetwork);
  await run('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  await run('ip', ['addr', 'add', `${CONTROL_PLANE}/24`, 'dev', BRIDGE]);
  await run('ip', ['link', 'set', BRIDGE, 'up']);
  for (const p of PODS) {
    await run('ip', ['netns', 'add', p.netns]);
    await run('ip', ['link', 'add', p.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', p.netns]);
    await run('ip', ['link', 'set', p.hostVeth, 'master', BRIDGE, 'up']);
    await run('ip', ['-n', p.netns, 'link', 'set', 'lo', 'up']);
    await run('ip', ['-n', p.netns, 'addr', 'add', `${p.address}/24`, 'dev', 'eth0']);
    await run('ip', ['-n', p.netns, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', p.netns, 'route', 'add', 'default', 'via', CONTROL_PLANE]);
    await run('ip', ['-n', p.netns, 'route', 'add', `${EXTERNAL.address}/32`, 'dev', 'eth0']);
  }
  const x = EXTERNAL;
  await run('ip', ['netns', 'add', x.netns]);
  await run('ip', ['link', 'add', x.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', x.netns]);
  await run('ip', ['link', 'set', x.hostVeth, 'master', BRIDGE, 'up']);
  await run('ip', ['-n', x.netns, 'link', 'set', 'lo', 'up']);
  await run('ip', ['-n', x.netns, 'addr', 'add', `${x.address}/32`, 'dev', 'eth0']);
  await run('ip', ['-n', x.netns, 'link', 'set', 'eth0', 'up']);
  await run('ip', ['-n', x.netns, 'route', 'add', '198.19.137.0/24', 'dev', 'eth0']);
}

/** curl's status code for a URL from a pod ('000' when the connection failed or closed without a reply). */
async function httpStatus(p: Pod, url: string): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', p.netns, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', url], { timeout: 15_000 }).catch(
    (e: unknown) => ({ stdout: String((e as { stdout?: string }).stdout ?? '000') }),
  );
  return stdout.trim();
}

/** Runs `cmd` inside a pod's namespace (as root: the app); resolves with stdout. */
async function inPod(p: Pod, cmd: string[], timeoutMs = 15_000): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', p.netns, ...cmd], { timeout: timeoutMs });
  return stdout;
}

/** A raw TCP client, as an unmodified app would be: connect, write, read until the peer ends. */
const TCP_CLIENT = `
const s = require('net').connect({ host: process.argv[1], port: Number(process.argv[2]) });
let got = '';
s.setTimeout(10000, () => { console.log('TIMEOUT'); s.destroy(); });
s.on('connect', () => { s.write(process.argv[3]); setTimeout(() => s.end(), 300); });
s.on('data', (c) => { got += c; });
s.on('close', () => console.log(JSON.stringify(got)));
s.on('error', (e) => console.log(e.code || e.message));
`;

if (!netns.ok && !required) {
  test.skip(`${TITLE} — skipped: ${netns.reason} (set MESHFED_REQUIRE_NETNS=1 to make this a failure)`, () => {});
} else {
  test.serial(TITLE, async (t) => {
    t.timeout(240_000);
    if (!netns.ok) return t.fail(`MESHFED_REQUIRE_NETNS=1 but ${netns.reason}`);
    const iptables = await run('iptables-restore', ['--version']).then(
      () => '',
      (e: unknown) => `iptables-restore is not usable: ${e instanceof Error ? e.message : String(e)}`,
    );
    if (iptables !== '') return t.fail(`${iptables} (Debian: apt-get install iptables)`);

    const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-capture-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    // The sidecars run as 1337: they must reach their own files, and nothing else needs to be open.
    await chmod(dir, 0o755);
    await initCa({ dir: path.join(dir, 'ca'), clusters: ['east'], trustDomain: 'cluster.local' });
    const tokens: Record<string, { namespace: string; serviceAccount: string; workload: string }> = {};
    for (const p of PODS) {
      const token = randomBytes(24).toString('hex');
      tokens[createHash('sha256').update(token).digest('hex')] = { namespace: 'default', serviceAccount: p.name, workload: p.name };
      const podDir = path.join(dir, 'pods', p.name);
      await mkdir(podDir, { recursive: true });
      await chmod(path.join(dir, 'pods'), 0o755);
      // As a projected token and the root ConfigMap would be: owned by the proxy, private to it.
      await writeFile(path.join(podDir, 'token'), token, { mode: 0o400 });
      await writeFile(path.join(podDir, 'root-cert.pem'), await readFile(path.join(dir, 'ca', 'east', 'root-cert.pem')), { mode: 0o400 });
      await chown(podDir, PROXY_UID, PROXY_UID);
      await chmod(podDir, 0o700);
      for (const f of ['token', 'root-cert.pem']) await chown(path.join(podDir, f), PROXY_UID, PROXY_UID);
    }
    await writeFile(path.join(dir, 'tokens.json'), JSON.stringify({ tokens }));
    await writeFile(
      path.join(dir, 'workloads.json'),
      JSON.stringify({
        cluster: 'east',
        gatewayAddress: '198.19.137.2',
        workloads: PODS.map((p) => ({
          name: p.name,
          namespace: 'default',
          serviceAccount: p.name,
          cluster: 'east',
          address: p.address,
          labels: { app: p.name, version: 'v1' },
          service: p.service,
          sidecar: true,
        })),
      }),
    );
    await mkdir(path.join(dir, 'config'));

    await setUpNetwork(t);
    const procs: MeshfedProcess[] = [];
    const start = (args: string[], wrap: string[] = []): MeshfedProcess => {
      const p = startMeshfed(t, args, { wrap });
      procs.push(p);
      return p;
    };
    const controlPlane = start([
      'controlplane', '--cluster', 'east', '--address', CONTROL_PLANE, '--ca-dir', path.join(dir, 'ca', 'east'),
      '--registry-file', path.join(dir, 'workloads.json'), '--tokens-file', path.join(dir, 'tokens.json'),
      '--config-dir', path.join(dir, 'config'), '--gateway-address', '198.19.137.2', '--sidecar-image', 'meshfed:test',
    ]);

    // The init container: exactly the webhook's command line for a pod declaring the service port.
    for (const p of PODS) {
      const args = captureInitArgs({}, [p.service.port]);
      if (!args.ok) return t.fail(args.errors.join('\n'));
      const init = startMeshfed(t, args.value, { wrap: ['ip', 'netns', 'exec', p.netns] });
      const exit = await eventually(`capture-init in ${p.name}`, async () => (init.exited() ? 'exited' : undefined), 30_000);
      t.is(exit, 'exited');
      t.regex(init.output(), /capture installed/, init.output());
      const nat = await inPod(p, ['iptables-save', '-t', 'nat']);
      t.regex(nat, new RegExp(`-A MESHFED_INBOUND -p tcp -m tcp --dport ${p.service.port} -j MESHFED_IN_REDIRECT`));
      t.regex(nat, /-A MESHFED_OUTPUT -m owner --uid-owner 1337 -j RETURN/);
    }
    // A second run refuses instead of doubling the jumps.
    const again = captureInitArgs({}, [9080]);
    if (!again.ok) return t.fail('no args');
    const twice = await run('ip', ['netns', 'exec', PODS[1]?.netns ?? '', process.execPath, MESHFED_BIN, ...again.value]).then(
      () => 'succeeded',
      (e: unknown) => String((e as { stderr?: string }).stderr ?? e),
    );
    t.regex(twice, /already installed/);

    // Apps run as root (not the proxy's uid), sidecars as 1337 with --capture.
    const [client, web, echo] = PODS;
    if (!client || !web || !echo) return t.fail('pods');
    start(['echo', '--address', web.address, '--port', String(web.service.port), '--cluster', 'east', '--workload', 'web', '--service', 'web', '--version', 'v1'], ['ip', 'netns', 'exec', web.netns]);
    start(['echo', '--protocol', 'tcp', '--address', echo.address, '--port', String(echo.service.port)], ['ip', 'netns', 'exec', echo.netns]);
    await eventually('control plane ready', async () => {
      if (controlPlane.exited()) throw new Error(`controlplane exited:\n${controlPlane.output()}`);
      const r = await fetch(`http://${CONTROL_PLANE}:15014/ready`).catch(() => undefined);
      return r?.status === 200 ? true : undefined;
    }, 60_000);
    const sidecars = new Map<string, MeshfedProcess>();
    for (const p of PODS) {
      const podDir = path.join(dir, 'pods', p.name);
      sidecars.set(
        p.name,
        start(
          [
            'sidecar', '--capture', '--cluster', 'east', '--workload', p.name, '--service-account', p.name, '--address', p.address,
            '--service-port', String(p.service.port), '--labels', JSON.stringify({ app: p.name, version: 'v1' }), '--control-plane', CONTROL_PLANE,
            '--roots', path.join(podDir, 'root-cert.pem'), '--token-file', path.join(podDir, 'token'),
          ],
          ['ip', 'netns', 'exec', p.netns, 'setpriv', `--reuid=${PROXY_UID}`, `--regid=${PROXY_UID}`, '--clear-groups', '--'],
        ),
      );
    }
    for (const p of PODS) {
      await eventually(`sidecar ${p.name} ready`, async () => {
        const sc = sidecars.get(p.name);
        if (sc?.exited()) throw new Error(`sidecar ${p.name} exited:\n${sc.output()}`);
        const r = await fetch(`http://${p.address}:15021/healthz/ready`).catch(() => undefined);
        return r?.status === 200 ? true : undefined;
      }, 60_000);
    }

    // HTTP: plain curl to a service address that exists nowhere; capture + Host routing carry it.
    const host = `web.default.svc.cluster.local:${web.service.port}`;
    const body = await eventually('HTTP through capture', async () => {
      const out = await inPod(client, ['curl', '-sS', '--max-time', '10', '--resolve', `${host}:${WEB_VIP}`, `http://${host}/hello`]).catch(() => '');
      try {
        return JSON.parse(out) as Record<string, unknown>;
      } catch {
        return undefined;
      }
    }, 60_000);
    t.is(body['workload'], 'web');
    t.is(body['peer'], CLIENT_SPIFFE, 'the web app sees the caller\'s mesh identity (mTLS between the sidecars)');

    // Raw TCP: an unmodified client to another service address; the original destination port picks the listener.
    const echoed = await eventually('TCP through capture', async () => {
      const out = (await inPod(client, [process.execPath, '-e', TCP_CLIENT, ECHO_VIP, String(echo.service.port), 'ping over capture'])).trim();
      return out === JSON.stringify('ping over capture') ? out : undefined;
    }, 60_000);
    t.is(echoed, JSON.stringify('ping over capture'));

    // The destination sidecars counted both, with the caller's principal and mutual TLS.
    const webMetrics = await eventually('web sidecar metrics', async () => {
      const text = await (await fetch(`http://${web.address}:15090/stats/prometheus`)).text();
      const n = samples(text, 'istio_requests_total', { reporter: 'destination', source_principal: CLIENT_SPIFFE, connection_security_policy: 'mutual_tls', response_code: '200' });
      return n.length > 0 ? n : undefined;
    });
    t.true((webMetrics[0] ?? 0) >= 1);
    const echoMetrics = await eventually('echo sidecar tcp metrics', async () => {
      const text = await (await fetch(`http://${echo.address}:15090/stats/prometheus`)).text();
      const opened = samples(text, 'istio_tcp_connections_opened_total', { reporter: 'destination', source_principal: CLIENT_SPIFFE, connection_security_policy: 'mutual_tls' });
      const sent = samples(text, 'istio_tcp_received_bytes_total', { reporter: 'destination', source_principal: CLIENT_SPIFFE });
      return opened.length > 0 && sent.length > 0 ? { opened, sent } : undefined;
    });
    t.true((echoMetrics.opened[0] ?? 0) >= 1);
    t.true((echoMetrics.sent[0] ?? 0) >= 'ping over capture'.length);
    // And the caller's sidecar reported the TCP connection as the source.
    const clientText = await (await fetch(`http://${client.address}:15090/stats/prometheus`)).text();
    t.true(samples(clientText, 'istio_tcp_connections_opened_total', { reporter: 'source', destination_service: 'echo.default.svc.cluster.local' }).length > 0, 'source-side istio_tcp_* for the captured connection');

    // Inbound: a plaintext client outside the mesh (curl from the host) dials the app's port; the
    // capture rules send it to the sidecar's 15006, which passes it through to the app by its
    // original destination port (PERMISSIVE), with no peer identity.
    const redirected = async (): Promise<number> => {
      const save = await inPod(web, ['iptables-save', '-c', '-t', 'nat']);
      const line = save.split('\n').find((l) => l.includes(`-A MESHFED_INBOUND -p tcp -m tcp --dport ${web.service.port} -j MESHFED_IN_REDIRECT`));
      return Number(/^\[(\d+):/.exec(line ?? '')?.[1] ?? Number.NaN);
    };
    const before = await redirected();
    const { stdout: plain } = await run('curl', ['-sS', '--max-time', '10', `http://${web.address}:${web.service.port}/from-outside`]);
    const outside = JSON.parse(plain) as Record<string, unknown>;
    t.is(outside['workload'], 'web');
    t.is(outside['path'], '/from-outside');
    t.is(outside['peer'], null);
    t.true((await redirected()) > before, 'the inbound connection went through MESHFED_IN_REDIRECT');

    // ALLOW_ANY (the default for capture proxies): destinations the mesh does not know pass through.
    const x = EXTERNAL;
    const inExternal = ['ip', 'netns', 'exec', x.netns];
    start(['echo', '--protocol', 'tcp', '--address', x.address, '--port', String(x.tcpPort)], inExternal);
    for (const port of [x.httpPort, x.meshHttpPort]) {
      start(['echo', '--address', x.address, '--port', String(port), '--cluster', 'outside', '--workload', 'external', '--service', 'external', '--version', 'v1'], inExternal);
    }
    const tcpTo = async (port: number, text: string): Promise<string> => (await inPod(client, [process.execPath, '-e', TCP_CLIENT, x.address, String(port), text])).trim();
    const passedTcp = await eventually('TCP passthrough', async () => ((await tcpTo(x.tcpPort, 'ping passthrough')) === JSON.stringify('ping passthrough') ? true : undefined), 30_000);
    t.true(passedTcp, 'raw TCP to an unknown port reached the external server');
    const httpJson = async (port: number, p: string): Promise<Record<string, unknown> | undefined> => {
      const out = await inPod(client, ['curl', '-sS', '--max-time', '10', `http://${x.address}:${port}${p}`]).catch(() => '');
      try {
        return JSON.parse(out) as Record<string, unknown>;
      } catch {
        return undefined;
      }
    };
    const unknownPort = await eventually('HTTP to an unknown port passes through', () => httpJson(x.httpPort, '/unknown-port'));
    t.is(unknownPort['workload'], 'external');
    t.is(unknownPort['path'], '/unknown-port');
    t.is(unknownPort['peer'], null, 'no mesh identity outside the mesh');
    const allowAny = await eventually('HTTP with an unknown Host on a mesh HTTP port takes allow_any', () => httpJson(x.meshHttpPort, '/allow-any'));
    t.is(allowAny['workload'], 'external');
    t.is(allowAny['path'], '/allow-any');
    const passMetrics = await eventually('PassthroughCluster in the caller\'s metrics', async () => {
      const text = await (await fetch(`http://${client.address}:15090/stats/prometheus`)).text();
      const tcp = samples(text, 'istio_tcp_connections_opened_total', { reporter: 'source', destination_service: 'PassthroughCluster' });
      const http = samples(text, 'istio_requests_total', { reporter: 'source', destination_service: 'PassthroughCluster', response_code: '200' });
      return tcp.length > 0 && http.length > 0 ? { tcp, http } : undefined;
    });
    t.true((passMetrics.tcp[0] ?? 0) >= 2, 'the TCP connection and the HTTP one to an unknown port');
    t.true((passMetrics.http[0] ?? 0) >= 1, 'the allow_any request');

    // REGISTRY_ONLY: the same calls are refused (BlackHoleCluster); the mesh still works.
    await writeFile(
      path.join(dir, 'config', 'sidecar.yaml'),
      'apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: default}\nspec:\n  outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n',
    );
    // Closed by the sidecar: a FIN, or a reset when the client's bytes were still unread.
    const blockedTcp = await eventually('TCP refused under REGISTRY_ONLY', async () => {
      const out = await tcpTo(x.tcpPort, 'ping blocked');
      return out === JSON.stringify('') || out.startsWith('ECONNRESET') ? out : undefined;
    }, 60_000);
    t.false(blockedTcp.includes('ping blocked'), 'the connection closed without reaching the external server');
    const blockAll = await eventually('block_all under REGISTRY_ONLY', async () => {
      const code = await httpStatus(client, `http://${x.address}:${x.meshHttpPort}/blocked`);
      return code === '502' ? code : undefined;
    });
    t.is(blockAll, '502', 'block_all answers 502');
    t.is(await httpStatus(client, `http://${x.address}:${x.httpPort}/blocked`), '000', 'an unknown port is closed (BlackHoleCluster)');
    const viaMesh = await inPod(client, ['curl', '-sS', '--max-time', '10', '--resolve', `${host}:${WEB_VIP}`, `http://${host}/still`]);
    t.is((JSON.parse(viaMesh) as Record<string, unknown>)['workload'], 'web', 'mesh services still reach their workloads');
    const blackHole = await eventually('BlackHoleCluster in the caller\'s metrics', async () => {
      const text = await (await fetch(`http://${client.address}:15090/stats/prometheus`)).text();
      const tcp = samples(text, 'istio_tcp_connections_opened_total', { reporter: 'source', destination_service: 'BlackHoleCluster' });
      const http = samples(text, 'istio_requests_total', { reporter: 'source', destination_service: 'BlackHoleCluster', response_code: '502' });
      return tcp.length > 0 && http.length > 0 ? { tcp, http } : undefined;
    });
    t.true((blackHole.tcp[0] ?? 0) >= 1);
    t.true((blackHole.http[0] ?? 0) >= 1);

    for (const p of procs) await p.stop();
    for (const p of procs) t.true(p.exited(), `process ${p.pid} still running`);
  });
}

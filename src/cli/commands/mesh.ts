import path from 'node:path';
import { type Command, Option } from 'commander';
import { errorMessage } from '../../common/errors.ts';
import type { RunningMesh } from '../runner/up.ts';
import { DEFAULT_STATE_DIR } from '../runner/state-dir.ts';
import { exitWith } from './lifecycle.ts';
import { keyAlgorithmOf, keyAlgorithmOption } from './options.ts';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Mesh commands; each action imports what it drives when it runs (see components.ts). */
export function registerMeshCommands(program: Command): void {
  program
    .command('up')
    .description('start a local multi-cluster mesh from a LocalMesh topology file; Ctrl-C stops it')
    .requiredOption('-f, --file <mesh.yaml>', 'topology file')
    .option('--state-dir <dir>', 'where state.json, certificates and logs go', DEFAULT_STATE_DIR)
    .addOption(new Option('--discovery <kind>', 'federation backend (default: consul if found, else memory)').choices(['consul', 'memory']))
    .addOption(new Option('--network <mode>', 'loopback addresses, or a network namespace per cluster (root)').choices(['loopback', 'netns']).default('loopback'))
    .addOption(
      new Option('--control-plane <mode>', "per cluster: one istiod-style process, or Pilot, Citadel, Mixer and federation as separate processes")
        .choices(['istiod', 'split'])
        .default('istiod'),
    )
    .option('--prometheus', 'also run Prometheus, scraping every sidecar, gateway and control plane')
    .option('--address-block <n>', 'second octet of the 127.x address plan', '100')
    .action(async (o: { prometheus?: boolean; file: string; stateDir: string; discovery?: 'consul' | 'memory'; network: 'loopback' | 'netns'; controlPlane: 'istiod' | 'split'; addressBlock: string }) => {
      const started = Date.now();
      const [{ loadTopology }, { up }] = await Promise.all([import('../runner/topology.ts'), import('../runner/up.ts')]);
      const topology = await loadTopology(o.file);
      if (!topology.ok) exitWith(topology.errors.join('\n'));
      // Ctrl-C (or SIGTERM) during start-up stops what was started, Consul included, and exits 130.
      const cancel = new AbortController();
      let mesh: RunningMesh | undefined;
      let stopping = false;
      const stop = (): void => {
        if (stopping) return;
        stopping = true;
        process.stdout.write('stopping…\n');
        if (!mesh) {
          cancel.abort();
          return;
        }
        mesh.stop().then(() => process.exit(0), () => process.exit(1));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      try {
        mesh = await up({
          topology: topology.value,
          stateDir: o.stateDir,
          discovery: o.discovery,
          network: o.network,
          controlPlane: o.controlPlane,
          prometheus: o.prometheus === true,
          block: Number(o.addressBlock),
          progress: (line) => process.stdout.write(`${line}\n`),
          signal: cancel.signal,
        });
      } catch (e: unknown) {
        if (cancel.signal.aborted) exitWith('meshfed up: stopped before the mesh was ready', 130);
        exitWith(`meshfed up failed: ${errorMessage(e)}`);
      }
      if (cancel.signal.aborted) {
        await mesh.stop();
        exitWith('meshfed up: stopped before the mesh was ready', 130);
      }
      const s = mesh.state;
      process.stdout.write(
        `\nmesh "${s.name}" is up in ${((Date.now() - started) / 1000).toFixed(1)} s: ${s.clusters.length} clusters, ` +
          `${s.clusters.reduce((n, c) => n + c.workloads.length, 0)} workloads, discovery ${s.discovery}, network ${s.network}\n` +
          `state: ${path.join(s.stateDir, 'state.json')}   logs: ${path.join(s.stateDir, 'logs')}\n` +
          (s.prometheus ? `prometheus: ${s.prometheus}\n` : '') +
          `try:   meshfed status --state-dir ${o.stateDir}\n` +
          `Ctrl-C stops everything.\n`,
      );
      // The mesh runs until SIGINT or SIGTERM (handled by `stop` above).
    });

  program
    .command('status')
    .description('show every component of the running mesh and whether it is ready')
    .option('--state-dir <dir>', 'state directory of `meshfed up`', DEFAULT_STATE_DIR)
    .option('--json', 'machine-readable output')
    .action(async (o: { stateDir: string; json?: boolean }) => {
      const [{ readState }, { meshStatus, printStatus }] = await Promise.all([import('../runner/state-file.ts'), import('../mesh-status.ts')]);
      const state = await readState(o.stateDir);
      if (!state.ok) exitWith(state.errors.join('\n'));
      const status = await meshStatus(state.value);
      if (o.json) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      else printStatus(status, (l) => process.stdout.write(`${l}\n`));
      if (!status.allReady) process.exitCode = 3;
    });

  program
    .command('curl')
    .description("send an HTTP request as a workload's app would, through its sidecar")
    .argument('<url>')
    .option('--state-dir <dir>', 'state directory of `meshfed up`', DEFAULT_STATE_DIR)
    .requiredOption('--from <cluster/namespace/workload>', 'the workload to send from')
    .option('-X, --request <method>', 'HTTP method', 'GET')
    .option('-H, --header <header>', "extra header 'name: value' (repeatable)", collect, [])
    .option('-d, --data <body>', 'request body')
    .option('-i, --include', 'print the status line and headers')
    .action(async (url: string, o: { stateDir: string; from: string; request: string; header: string[]; data?: string; include?: boolean }) => {
      const [{ findWorkload, readState }, { sendFromWorkload }] = await Promise.all([import('../runner/state-file.ts'), import('../mesh-client.ts')]);
      const state = await readState(o.stateDir);
      if (!state.ok) exitWith(state.errors.join('\n'));
      const from = findWorkload(state.value, o.from);
      if (!from.ok) exitWith(from.errors.join('\n'));
      const headers: Record<string, string> = {};
      for (const h of o.header) {
        const i = h.indexOf(':');
        if (i <= 0) exitWith(`invalid -H "${h}": expected 'name: value'`);
        headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
      }
      try {
        const res = await sendFromWorkload(from.value, { url, method: o.request.toUpperCase(), headers, body: o.data });
        if (o.include) {
          process.stdout.write(`HTTP/1.1 ${res.status} ${res.statusMessage}\n`);
          for (const [k, v] of Object.entries(res.headers)) process.stdout.write(`${k}: ${Array.isArray(v) ? v.join(', ') : v}\n`);
          process.stdout.write('\n');
        }
        process.stdout.write(res.body.endsWith('\n') ? res.body : `${res.body}\n`);
        if (res.status >= 400) process.exitCode = 22;
      } catch (e: unknown) {
        exitWith(`meshfed curl: ${errorMessage(e)}`, 7);
      }
    });

  program
    .command('apply')
    .description('validate Istio-kind YAML and apply it to a running cluster')
    .option('--state-dir <dir>', 'state directory of `meshfed up`', DEFAULT_STATE_DIR)
    .requiredOption('--cluster <name>')
    .requiredOption('-f, --file <path>', 'file or folder (repeatable)', collect, [])
    .action(async (o: { stateDir: string; cluster: string; file: string[] }) => {
      const [{ readState }, { applyConfig }] = await Promise.all([import('../runner/state-file.ts'), import('../mesh-apply.ts')]);
      const state = await readState(o.stateDir);
      if (!state.ok) exitWith(state.errors.join('\n'));
      const r = await applyConfig(state.value, o.cluster, o.file);
      if (!r.ok) exitWith(r.errors.map((e) => `error: ${e}`).join('\n'));
      for (const line of r.value) process.stdout.write(`${line}\n`);
    });

  program
    .command('delete')
    .description('delete the objects named in Istio-kind YAML from a running cluster (as kubectl delete -f)')
    .option('--state-dir <dir>', 'state directory of `meshfed up`', DEFAULT_STATE_DIR)
    .requiredOption('--cluster <name>')
    .requiredOption('-f, --file <path>', 'file or folder (repeatable)', collect, [])
    .option('--ignore-not-found', 'exit 0 when an object is not there')
    .action(async (o: { stateDir: string; cluster: string; file: string[]; ignoreNotFound?: boolean }) => {
      const [{ readState }, { deleteConfig }] = await Promise.all([import('../runner/state-file.ts'), import('../mesh-apply.ts')]);
      const state = await readState(o.stateDir);
      if (!state.ok) exitWith(state.errors.join('\n'));
      const r = await deleteConfig(state.value, o.cluster, o.file);
      if (!r.ok) exitWith(r.errors.map((e) => `error: ${e}`).join('\n'));
      for (const line of r.value.deleted) process.stdout.write(`${line}\n`);
      if (o.ignoreNotFound) return;
      for (const line of r.value.notFound) process.stderr.write(`error: ${line}\n`);
      if (r.value.notFound.length > 0) process.exitCode = 1;
    });

  program
    .command('demo')
    .description('run the bundled two-cluster demo: a frontend calling reviews v1 (east) and v2 (west) under a 90/10 split')
    .option('--state-dir <dir>', 'state directory', path.join(DEFAULT_STATE_DIR, 'demo'))
    .addOption(new Option('--discovery <kind>').choices(['consul', 'memory']))
    .option('--rps <n>', 'requests per second from the frontend', '20')
    .option('--duration <seconds>', 'stop after this many seconds (default: until Ctrl-C)')
    .action(async (o: { stateDir: string; discovery?: 'consul' | 'memory'; rps: string; duration?: string }) => {
      const { runDemo } = await import('../demo.ts');
      try {
        await runDemo({
          stateDir: o.stateDir,
          discovery: o.discovery,
          rps: Number(o.rps),
          durationSeconds: o.duration ? Number(o.duration) : undefined,
          out: (l) => process.stdout.write(`${l}\n`),
        });
      } catch (e: unknown) {
        exitWith(`meshfed demo failed: ${errorMessage(e)}`);
      }
    });

  const ca = program.command('ca').description('certificate authority tools');
  ca.command('init')
    .description('write a root CA and one intermediate per cluster (Istio plug-in CA layout)')
    .requiredOption('--dir <dir>', 'output folder')
    .requiredOption('--clusters <names>', 'comma-separated cluster names')
    .option('--trust-domain <domain>', 'SPIFFE trust domain', 'cluster.local')
    .addOption(keyAlgorithmOption('new root and intermediate keys'))
    .action(async (o: { dir: string; clusters: string; trustDomain: string; keyAlgorithm: string }) => {
      const clusters = o.clusters.split(',').map((s) => s.trim()).filter(Boolean);
      const { initCa } = await import('../../citadel/index.ts');
      try {
        await initCa({ dir: o.dir, clusters, trustDomain: o.trustDomain, keyAlgorithm: keyAlgorithmOf(o.keyAlgorithm) });
      } catch (e: unknown) {
        exitWith(`meshfed ca init: ${errorMessage(e)}`);
      }
      process.stdout.write(`root: ${path.join(o.dir, 'root-cert.pem')}\n`);
      for (const c of clusters) process.stdout.write(`intermediate for ${c}: ${path.join(o.dir, c)}/\n`);
    });
  ca.command('rotate')
    .description(
      "rotate the mesh's root CA across every cluster of a running `meshfed up` mesh, live: distribute a bundle of old+new roots, reissue intermediates and workload certificates under the new root, then drop the old root (Istio's plug-in CA rotation)",
    )
    .option('--state-dir <dir>', 'state directory of the running mesh', DEFAULT_STATE_DIR)
    .addOption(new Option('--phase <phase>', 'run one phase (each is idempotent; resume a failed rotation from its phase)').choices(['distribute', 'reissue', 'drop', 'all']).default('all'))
    .option('--timeout <seconds>', 'how long each wait for the components may take', '60')
    .addOption(keyAlgorithmOption('the new root and intermediate keys'))
    .action(async (o: { stateDir: string; phase: 'distribute' | 'reissue' | 'drop' | 'all'; timeout: string; keyAlgorithm: string }) => {
      const seconds = Number(o.timeout);
      if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) exitWith('invalid --timeout: expected seconds, 1–3600');
      const { rotateMeshRoot } = await import('../ca-rotate.ts');
      try {
        await rotateMeshRoot({
          stateDir: o.stateDir,
          phase: o.phase,
          timeoutMs: seconds * 1000,
          keyAlgorithm: keyAlgorithmOf(o.keyAlgorithm),
          out: (l) => process.stdout.write(`${l}\n`),
        });
      } catch (e: unknown) {
        exitWith(`meshfed ca rotate: ${errorMessage(e)}`);
      }
    });
}

/**
 * Test harness: real Consul datacenters, one `consul agent -dev` per datacenter, WAN-joined, on
 * one loopback address. A thin layer over the runner's own launcher
 * (src/cli/runner/consul-agents.ts), adding per-test ports, a settle delay and logs in errors.
 *
 * Ports of datacenter i (in `names` order): http basePort+10i, serf LAN +1, serf WAN +2, server
 * RPC +3, https +4; DNS and gRPC are disabled. With `secure`, the agents run as `meshfed up` runs
 * them (src/cli/runner/consul-security.ts): HTTPS only on +4, ACLs with default deny, RPC TLS and
 * gossip encryption, certificates from a fresh mesh CA in the temp folder. Agents log to `<tempdir>/logs/<name>_consul.log`; when
 * start-up fails, the error quotes each log's tail, and the temp folder is kept.
 *
 * The caller owns the result: call `stop()` in a teardown hook (it is idempotent). Agents are also
 * killed by PID if the test process exits without calling it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ConsulDatacenter as RunnerDatacenter, startConsulDatacenters as startAgents } from '../../src/cli/runner/consul-agents.ts';
import { type PreparedConsulSecurity, prepareConsulSecurity } from '../../src/cli/runner/consul-security.ts';
import { Supervisor } from '../../src/cli/runner/supervisor.ts';
import { initCa } from '../../src/citadel/ca-init.ts';
import { findTool } from './tools.ts';

/** One running datacenter. */
export interface ConsulDatacenter {
  name: string;
  /** `host:httpPort`, as CONSUL_HTTP_ADDR expects. */
  httpAddr: string;
  host: string;
  httpPort: number;
  serfWanPort: number;
  /** The agent's log file. */
  logFile: string;
  /** With `secure`: the API is HTTPS on `httpPort`, verified with `caFile`/`caPem`. */
  tls?: { caFile: string; caPem: string };
  /** With `secure`: this datacenter's federation controller token. */
  federationToken?: string;
}

/** Running datacenters and how to stop them. */
export interface ConsulDatacenters {
  dcs: ConsulDatacenter[];
  /** Stops every agent by PID (SIGTERM, SIGKILL after 5 s) and removes the temp folder. */
  stop(): Promise<void>;
  /**
   * Kills one datacenter's agent by PID with SIGKILL, as a crashed or partitioned cluster; the
   * others keep it in their WAN pool, so requests to it fail instead of vanishing.
   */
  killDatacenter(name: string): Promise<void>;
  /** With `secure`: the management token (full access), for tests that inspect ACL state. */
  managementToken?: string;
}

/** Options of startConsulDatacenters. */
export interface ConsulDatacentersOptions {
  names: string[];
  /** A loopback address unique to the test file, e.g. `127.60.0.1`. */
  host: string;
  /** First port; datacenter i uses basePort+10i … basePort+10i+3. */
  basePort: number;
  /** Deadline for the whole start-up, in ms (default 30000). */
  startTimeoutMs?: number;
  /** Quiet time after the WAN join before returning, in ms (default 3500); see below. */
  settleMs?: number;
  /** Start the agents secured (ACLs, HTTPS, TLS), as the runner does. */
  secure?: boolean;
}



function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function tlsOf(security: PreparedConsulSecurity | undefined, d: RunnerDatacenter): Pick<ConsulDatacenter, 'tls' | 'federationToken'> {
  const sec = security?.byDatacenter.get(d.datacenter);
  if (!sec || !d.federationToken) return {};
  return { tls: { caFile: sec.tls.caFile, caPem: sec.caPem }, federationToken: d.federationToken };
}

/** Starts and WAN-joins one dev-mode Consul agent per name; resolves when all see each other. */
export async function startConsulDatacenters(opts: ConsulDatacentersOptions): Promise<ConsulDatacenters> {
  const consul = findTool('consul');
  const dir = mkdtempSync(join(tmpdir(), 'meshfed-consul-'));
  const supervisor = new Supervisor(join(dir, 'logs'));
  let stopped: Promise<void> | undefined;
  const stop = (removeDir: boolean): Promise<void> => {
    stopped ??= supervisor.stopAll().then(() => {
      if (removeDir) rmSync(dir, { recursive: true, force: true });
    });
    return stopped;
  };

  let started: RunnerDatacenter[];
  let security: PreparedConsulSecurity | undefined;
  try {
    if (opts.secure) {
      const caDir = join(dir, 'ca');
      await initCa({ dir: caDir, clusters: opts.names, trustDomain: 'cluster.local' });
      security = await prepareConsulSecurity(
        join(dir, 'consul'),
        opts.names.map((name) => ({ datacenter: name, address: opts.host, caDir: join(caDir, name) })),
      );
    }
    const prepared = security;
    started = await startAgents(
      supervisor,
      consul,
      opts.names.map((name, i) => {
        const base = opts.basePort + 10 * i;
        const sec = prepared?.byDatacenter.get(name);
        return {
          datacenter: name,
          address: opts.host,
          ports: { http: base, serfLan: base + 1, serfWan: base + 2, server: base + 3, https: base + 4 },
          ...(sec ? { security: sec } : {}),
        };
      }),
      { timeoutMs: opts.startTimeoutMs ?? 30_000, ...(prepared ? { security: prepared.mesh } : {}) },
    );
    // A server joining triggers a full anti-entropy sync after a random delay of up to 3 s. If
    // that sync starts while the agent is busy registering a service (sync paused), Consul 1.8
    // backs off for 15-30 s and syncs no changes meanwhile: a TTL check that goes critical then
    // stays passing in the catalog. Returning only after that delay keeps tests clear of it.
    await sleep(opts.settleMs ?? 3500);
  } catch (e: unknown) {
    await stop(false);
    const logs = supervisor.list().map((p) => `--- ${p.logFile}\n${tail(p.logFile)}`).join('\n');
    throw new Error(`${e instanceof Error ? e.message : String(e)}; logs kept in ${dir}\n${logs}`);
  }

  return {
    dcs: started.map((d) => ({
      name: d.datacenter,
      host: d.address,
      httpPort: d.httpPort,
      httpAddr: `${d.address}:${d.httpPort}`,
      serfWanPort: d.serfWanPort,
      logFile: d.proc.logFile,
      ...tlsOf(security, d),
    })),
    ...(security ? { managementToken: security.mesh.managementToken } : {}),
    stop: () => stop(true),
    killDatacenter: async (name) => {
      const proc = started.find((d) => d.datacenter === name)?.proc;
      if (!proc) throw new Error(`no datacenter ${name}`);
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
      process.kill(proc.pid, 'SIGKILL');
      await proc.exited;
    },
  };
}

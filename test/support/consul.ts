/**
 * Test harness: real Consul datacenters, one `consul agent -dev` per datacenter, WAN-joined, on
 * one loopback address. Used by federation tests and the end-to-end tests.
 *
 * Ports of datacenter i (in `names` order): http basePort+10i, serf LAN +1, serf WAN +2, server
 * RPC +3; DNS and gRPC are disabled. Each agent logs to `<tempdir>/<name>.log`; when start-up
 * fails, the error names the log and quotes its tail, and the temp folder is kept.
 *
 * The caller owns the result: call `stop()` in a teardown hook (it is idempotent). Agents are also
 * killed by PID if the test process exits without calling it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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
}

/** Running datacenters and how to stop them. */
export interface ConsulDatacenters {
  dcs: ConsulDatacenter[];
  /** Kills every agent by PID (SIGTERM, SIGKILL after 5 s) and removes the temp folder. */
  stop(): Promise<void>;
  /**
   * Kills one datacenter's agent by PID with SIGKILL, as a crashed or partitioned cluster; the
   * others keep it in their WAN pool, so requests to it fail instead of vanishing.
   */
  killDatacenter(name: string): Promise<void>;
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
}

class EarlyExit extends Error {
  constructor(readonly dc: string) {
    super(`consul agent ${dc} exited early`);
  }
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

async function until<T>(what: string, deadline: number, probe: () => Promise<T | undefined>): Promise<T> {
  let last = '';
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (e: unknown) {
      if (e instanceof EarlyExit) throw e;
      last = e instanceof Error ? e.message : String(e);
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
}

async function killByPid(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    live.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
  live.delete(child);
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Starts and WAN-joins one dev-mode Consul agent per name; resolves when all see each other. */
export async function startConsulDatacenters(opts: ConsulDatacentersOptions): Promise<ConsulDatacenters> {
  const consul = findTool('consul');
  const dir = mkdtempSync(join(tmpdir(), 'meshfed-consul-'));
  const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
  const children: ChildProcess[] = [];
  const dcs: ConsulDatacenter[] = opts.names.map((name, i) => {
    const base = opts.basePort + 10 * i;
    return {
      name,
      host: opts.host,
      httpPort: base,
      httpAddr: `${opts.host}:${base}`,
      serfWanPort: base + 2,
      logFile: join(dir, `${name}.log`),
    };
  });

  let stopped: Promise<void> | undefined;
  const stop = (removeDir: boolean): Promise<void> => {
    stopped ??= Promise.all(children.map(killByPid)).then(() => {
      if (removeDir) rmSync(dir, { recursive: true, force: true });
    });
    return stopped;
  };

  try {
    for (const dc of dcs) {
      const fd = openSync(dc.logFile, 'a');
      const h = opts.host;
      const child = spawn(
        consul,
        [
          'agent', '-dev', '-datacenter', dc.name, '-node', dc.name,
          '-bind', h, '-client', h, '-advertise', h, '-advertise-wan', h,
          '-http-port', String(dc.httpPort), '-serf-lan-port', String(dc.httpPort + 1),
          '-serf-wan-port', String(dc.serfWanPort), '-server-port', String(dc.httpPort + 3),
          '-dns-port', '-1', '-grpc-port', '-1', '-data-dir', join(dir, `${dc.name}-data`),
        ],
        { stdio: ['ignore', fd, fd] },
      );
      closeSync(fd);
      live.add(child);
      children.push(child);
      child.once('exit', () => live.delete(child));
    }

    const exitedEarly = (): string | undefined => {
      const i = children.findIndex((c) => c.exitCode !== null || c.signalCode !== null);
      return i >= 0 ? dcs[i]?.name : undefined;
    };
    const probe = async <T>(what: string, check: () => Promise<T | undefined>): Promise<T> =>
      until(what, deadline, async () => {
        const dead = exitedEarly();
        if (dead !== undefined) throw new EarlyExit(dead);
        return check();
      });

    await Promise.all(
      dcs.map((dc) =>
        probe(`leader of ${dc.name}`, async () => {
          const leader = await getJson(`http://${dc.httpAddr}/v1/status/leader`);
          return typeof leader === 'string' && leader.length > 0 ? leader : undefined;
        }),
      ),
    );
    const [first, ...others] = dcs;
    for (const dc of others) {
      await probe(`WAN join of ${dc.name}`, async () => {
        const url = `http://${first?.httpAddr}/v1/agent/join/${opts.host}:${dc.serfWanPort}?wan=true`;
        const res = await fetch(url, { method: 'PUT', signal: AbortSignal.timeout(5000) });
        if (!res.ok) throw new Error(`join: HTTP ${res.status} ${await res.text()}`);
        return true;
      });
    }
    const joinedAt = Date.now();
    const all = [...opts.names].sort().join(',');
    await Promise.all(
      dcs.map((dc) =>
        probe(`datacenters seen from ${dc.name}`, async () => {
          const listed = await getJson(`http://${dc.httpAddr}/v1/catalog/datacenters`);
          if (!Array.isArray(listed)) return undefined;
          const names = listed.filter((n): n is string => typeof n === 'string').sort().join(',');
          if (names !== all) return undefined;
          // Cross-datacenter reads must also be routable, not only listed.
          for (const other of opts.names) await getJson(`http://${dc.httpAddr}/v1/catalog/services?dc=${other}`);
          return true;
        }),
      ),
    );
    // A server joining triggers a full anti-entropy sync after a random delay of up to 3 s. If
    // that sync starts while the agent is busy registering a service (sync paused), Consul 1.8
    // backs off for 15-30 s and syncs no changes meanwhile: a TTL check that goes critical then
    // stays passing in the catalog. Returning only after that delay keeps tests clear of it.
    await sleep(Math.max(0, joinedAt + (opts.settleMs ?? 3500) - Date.now()));
  } catch (e: unknown) {
    await stop(false);
    const dead = e instanceof EarlyExit ? `consul agent ${e.dc} exited early; ` : '';
    const logs = dcs.map((dc) => `--- ${dc.logFile}\n${tail(dc.logFile)}`).join('\n');
    throw new Error(`${dead}${e instanceof Error ? e.message : String(e)}; logs kept in ${dir}\n${logs}`);
  }

  return {
    dcs,
    stop: () => stop(true),
    killDatacenter: async (name) => {
      const child = children[dcs.findIndex((dc) => dc.name === name)];
      if (!child) throw new Error(`no datacenter ${name}`);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

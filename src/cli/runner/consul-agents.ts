import http from 'node:http';
import type { ManagedProcess, Supervisor } from './supervisor.ts';
import { waitFor } from './readiness.ts';

/** The ports of one agent; DNS and gRPC are always off. */
export interface ConsulPorts {
  http: number;
  server: number;
  serfLan: number;
  serfWan: number;
}

export const CONSUL_PORTS: ConsulPorts = { http: 8500, server: 8300, serfLan: 8301, serfWan: 8302 };

/** What to start: one dev-mode agent, the only server of its datacenter. */
export interface ConsulDatacenterSpec {
  datacenter: string;
  address: string;
  /** Default CONSUL_PORTS; give each agent its own when several share an address. */
  ports?: ConsulPorts;
  netns?: string | undefined;
}

/** One running datacenter. */
export interface ConsulDatacenter {
  datacenter: string;
  address: string;
  httpPort: number;
  serfWanPort: number;
  /** The agent process, owned by the supervisor (stopped by PID). */
  proc: ManagedProcess;
}

function consulRequest(dc: { address: string; httpPort: number }, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: dc.address, port: dc.httpPort, method, path, timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function consulOk(dc: ConsulDatacenter, method: string, path: string, accept: (body: string) => boolean = () => true): Promise<boolean> {
  try {
    const r = await consulRequest(dc, method, path);
    return r.status === 200 && accept(r.body);
  } catch {
    return false;
  }
}

function exited(p: ManagedProcess): string | undefined {
  return p.child.exitCode !== null || p.child.signalCode !== null ? `exited early; see ${p.logFile}` : undefined;
}

/**
 * Starts one dev agent per datacenter through the supervisor (so they are stopped by PID with the
 * rest), waits for each to elect itself leader, WAN-joins them all to the first, and resolves once
 * every datacenter lists all the others and can route a read to each of them.
 */
export async function startConsulDatacenters(
  supervisor: Supervisor,
  consulBin: string,
  specs: ConsulDatacenterSpec[],
  opts: { timeoutMs?: number } = {},
): Promise<ConsulDatacenter[]> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const dcs = specs.map((s): ConsulDatacenter => {
    const p = s.ports ?? CONSUL_PORTS;
    const proc = supervisor.spawn({
      name: `${s.datacenter}/consul`,
      command: consulBin,
      netns: s.netns,
      args: [
        'agent', '-dev', '-datacenter', s.datacenter, '-node', `${s.datacenter}-server`,
        '-bind', s.address, '-client', s.address, '-advertise', s.address, '-advertise-wan', s.address,
        '-http-port', String(p.http), '-server-port', String(p.server),
        '-serf-lan-port', String(p.serfLan), '-serf-wan-port', String(p.serfWan),
        '-dns-port', '-1', '-grpc-port', '-1', '-log-level', 'warn',
      ],
    });
    return { datacenter: s.datacenter, address: s.address, httpPort: p.http, serfWanPort: p.serfWan, proc };
  });
  const wait = (dc: ConsulDatacenter, what: string, check: () => Promise<boolean>): Promise<void> =>
    waitFor(`consul ${dc.datacenter}: ${what}`, check, { timeoutMs, failed: () => exited(dc.proc) });

  await Promise.all(dcs.map((dc) => wait(dc, 'leader', () => consulOk(dc, 'GET', '/v1/status/leader', (b) => b.length > 4))));
  const [first, ...rest] = dcs;
  if (!first) return dcs;
  for (const other of rest) {
    await wait(other, `WAN join to ${first.datacenter}`, () => consulOk(first, 'PUT', `/v1/agent/join/${other.address}:${other.serfWanPort}?wan=1`));
  }
  const names = dcs.map((d) => d.datacenter);
  await Promise.all(
    dcs.map((dc) =>
      wait(dc, 'WAN federation', async () => {
        if (!(await consulOk(dc, 'GET', '/v1/catalog/datacenters', (b) => names.every((n) => b.includes(`"${n}"`))))) return false;
        for (const n of names) if (!(await consulOk(dc, 'GET', `/v1/catalog/services?dc=${n}`))) return false;
        return true;
      }),
    ),
  );
  return dcs;
}

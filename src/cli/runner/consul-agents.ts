import http from 'node:http';
import type { Supervisor } from './supervisor.ts';
import { waitFor } from './readiness.ts';

/** One Consul datacenter per cluster: a dev-mode agent on the cluster's own address. */
export interface ConsulDatacenter {
  datacenter: string;
  address: string;
  httpPort: number;
  serfWanPort: number;
}

export const CONSUL_PORTS = { http: 8500, server: 8300, serfLan: 8301, serfWan: 8302 } as const;

function consulRequest(dc: ConsulDatacenter, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: dc.address, port: dc.httpPort, method, path, timeout: 2000, agent: false }, (res) => {
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

async function consulOk(dc: ConsulDatacenter, path: string, accept: (body: string) => boolean): Promise<boolean> {
  try {
    const r = await consulRequest(dc, 'GET', path);
    return r.status === 200 && accept(r.body);
  } catch {
    return false;
  }
}

/**
 * Starts a dev agent per datacenter (through the supervisor, so they are stopped by PID with the
 * rest), waits for each to elect itself leader, WAN-joins them, and waits until every datacenter
 * sees all the others.
 */
export async function startConsulDatacenters(
  supervisor: Supervisor,
  consulBin: string,
  dcs: { datacenter: string; address: string; netns?: string }[],
): Promise<ConsulDatacenter[]> {
  const started = dcs.map((d) => {
    const dc: ConsulDatacenter = {
      datacenter: d.datacenter,
      address: d.address,
      httpPort: CONSUL_PORTS.http,
      serfWanPort: CONSUL_PORTS.serfWan,
    };
    const proc = supervisor.spawn({
      name: `${d.datacenter}/consul`,
      command: consulBin,
      netns: d.netns,
      args: [
        'agent', '-dev', '-datacenter', d.datacenter, '-node', `${d.datacenter}-server`,
        '-bind', d.address, '-client', d.address, '-advertise', d.address, '-advertise-wan', d.address,
        '-http-port', String(CONSUL_PORTS.http), '-server-port', String(CONSUL_PORTS.server),
        '-serf-lan-port', String(CONSUL_PORTS.serfLan), '-serf-wan-port', String(CONSUL_PORTS.serfWan),
        '-dns-port', '-1', '-grpc-port', '-1', '-log-level', 'warn',
      ],
    });
    return { dc, proc };
  });
  await Promise.all(
    started.map(({ dc, proc }) =>
      waitFor(`consul ${dc.datacenter}`, () => consulOk(dc, '/v1/status/leader', (b) => b.length > 4), {
        timeoutMs: 30_000,
        failed: () => (proc.child.exitCode !== null ? `exited; see ${proc.logFile}` : undefined),
      }),
    ),
  );
  const [first, ...rest] = started.map((s) => s.dc);
  if (first) {
    for (const other of rest) {
      const r = await consulRequest(first, 'PUT', `/v1/agent/join/${other.address}:${other.serfWanPort}?wan=1`);
      if (r.status !== 200) throw new Error(`consul WAN join ${first.datacenter} → ${other.datacenter}: ${r.status} ${r.body}`);
    }
    const names = started.map((s) => s.dc.datacenter);
    await Promise.all(
      started.map(({ dc }) =>
        waitFor(`consul ${dc.datacenter} WAN federation`, () =>
          consulOk(dc, '/v1/catalog/datacenters', (b) => names.every((n) => b.includes(`"${n}"`))),
        ),
      ),
    );
  }
  return started.map((s) => s.dc);
}

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bootstrapConsulAcls, type DatacenterTokens, replicatedTo } from './consul-acl-bootstrap.ts';
import { type ConsulSecuritySettings, type ConsulTlsFiles, consulAgentConfig } from './consul-agent-config.ts';
import { type ConsulEndpoint, consulOk } from './consul-http.ts';
import { waitFor } from './readiness.ts';
import type { ManagedProcess, Supervisor } from './supervisor.ts';

/** The ports of one agent; DNS and gRPC are always off. `https` serves the API when secured. */
export interface ConsulPorts {
  http: number;
  https: number;
  server: number;
  serfLan: number;
  serfWan: number;
}

export const CONSUL_PORTS: ConsulPorts = { http: 8500, https: 8501, server: 8300, serfLan: 8301, serfWan: 8302 };

/** A datacenter's own part of a secured start: its TLS files and tokens. */
export interface ConsulDatacenterSecurity {
  tls: ConsulTlsFiles;
  /** PEM of `tls.caFile`: the runner's own checks verify the agent with it. */
  caPem: string;
  tokens: Omit<DatacenterTokens, 'datacenter' | 'node'>;
}

/** Secures every agent (ACLs, HTTPS, RPC TLS, gossip encryption); see consul-agent-config.ts. */
export interface ConsulMeshSecurity extends ConsulSecuritySettings {
  /** Where each agent's configuration file is written. */
  configDir: string;
}

/** What to start: one dev-mode agent, the only server of its datacenter. */
export interface ConsulDatacenterSpec {
  datacenter: string;
  address: string;
  /** Default CONSUL_PORTS; give each agent its own when several share an address. */
  ports?: ConsulPorts;
  netns?: string | undefined;
  /** Required for every datacenter when the start is secured, absent otherwise. */
  security?: ConsulDatacenterSecurity;
}

/** One running datacenter. */
export interface ConsulDatacenter {
  datacenter: string;
  address: string;
  /** The API port: HTTPS when `secure`, plain HTTP otherwise. */
  httpPort: number;
  /** True when the API is HTTPS with ACLs (verify with the mesh root, send a token). */
  secure: boolean;
  /** The federation controller's token of this datacenter, when secured. */
  federationToken?: string;
  serfWanPort: number;
  /** The agent process, owned by the supervisor (stopped by PID). */
  proc: ManagedProcess;
}

function exited(p: ManagedProcess): string | undefined {
  return p.child.exitCode !== null || p.child.signalCode !== null ? `exited early; see ${p.logFile}` : undefined;
}

function nodeName(datacenter: string): string {
  return `${datacenter}-server`;
}

/** Writes a secured agent's configuration file and returns its path. */
async function writeAgentConfig(mesh: ConsulMeshSecurity, spec: ConsulDatacenterSpec, sec: ConsulDatacenterSecurity, ports: ConsulPorts): Promise<string> {
  const file = path.join(mesh.configDir, `${spec.datacenter}-consul.json`);
  const config = consulAgentConfig(mesh, { datacenter: spec.datacenter, httpsPort: ports.https, tls: sec.tls, agentToken: sec.tokens.agentToken });
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return file;
}

/**
 * Starts one dev agent per datacenter through the supervisor (so they are stopped by PID with the
 * rest), waits for each to elect itself leader, WAN-joins them all to the first, and resolves once
 * every datacenter lists all the others and can route a read to each of them.
 *
 * With `opts.security`, every agent serves its API over HTTPS only, with ACLs (default deny), TLS
 * on server RPC and encrypted gossip; once joined, the policies and tokens are created on the
 * first datacenter (the primary) and each datacenter's federation token is returned with it.
 */
export async function startConsulDatacenters(
  supervisor: Supervisor,
  consulBin: string,
  specs: ConsulDatacenterSpec[],
  opts: { timeoutMs?: number; security?: ConsulMeshSecurity } = {},
): Promise<ConsulDatacenter[]> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const mesh = opts.security;
  const started = await Promise.all(
    specs.map(async (s): Promise<{ dc: ConsulDatacenter; ep: ConsulEndpoint }> => {
      const p = s.ports ?? CONSUL_PORTS;
      const sec = s.security;
      if (mesh && !sec) throw new Error(`consul ${s.datacenter}: a secured start needs the datacenter's TLS files and tokens`);
      const secured = mesh && sec ? { file: await writeAgentConfig(mesh, s, sec, p), sec } : undefined;
      const proc = supervisor.spawn({
        name: `${s.datacenter}/consul`,
        command: consulBin,
        netns: s.netns,
        args: [
          'agent', '-dev', '-datacenter', s.datacenter, '-node', nodeName(s.datacenter),
          '-bind', s.address, '-client', s.address, '-advertise', s.address, '-advertise-wan', s.address,
          '-http-port', secured ? '-1' : String(p.http), '-server-port', String(p.server),
          '-serf-lan-port', String(p.serfLan), '-serf-wan-port', String(p.serfWan),
          '-dns-port', '-1', '-grpc-port', '-1', '-log-level', 'warn',
          ...(secured ? ['-config-file', secured.file] : []),
        ],
      });
      const dc: ConsulDatacenter = {
        datacenter: s.datacenter,
        address: s.address,
        httpPort: secured ? p.https : p.http,
        secure: secured !== undefined,
        ...(secured ? { federationToken: secured.sec.tokens.federationToken } : {}),
        serfWanPort: p.serfWan,
        proc,
      };
      const ep: ConsulEndpoint = { address: s.address, port: dc.httpPort, caPem: secured?.sec.caPem, token: mesh?.managementToken };
      return { dc, ep };
    }),
  );
  const wait = (dc: ConsulDatacenter, what: string, check: () => Promise<boolean>): Promise<void> =>
    waitFor(`consul ${dc.datacenter}: ${what}`, check, { timeoutMs, failed: () => exited(dc.proc) });

  await Promise.all(started.map(({ dc, ep }) => wait(dc, 'leader', () => consulOk(ep, 'GET', '/v1/status/leader', (b) => b.length > 4))));
  const [first, ...rest] = started;
  if (!first) return [];
  for (const other of rest) {
    await wait(other.dc, `WAN join to ${first.dc.datacenter}`, () => consulOk(first.ep, 'PUT', `/v1/agent/join/${other.dc.address}:${other.dc.serfWanPort}?wan=1`));
  }
  const names = started.map(({ dc }) => dc.datacenter);
  await Promise.all(
    started.map(({ dc, ep }) =>
      wait(dc, 'WAN federation', async () => {
        if (!(await consulOk(ep, 'GET', '/v1/catalog/datacenters', (b) => names.every((n) => b.includes(`"${n}"`))))) return false;
        for (const n of names) if (!(await consulOk(ep, 'GET', `/v1/catalog/services?dc=${n}`))) return false;
        return true;
      }),
    ),
  );
  if (mesh) {
    const tokens = specs.flatMap((s): DatacenterTokens[] =>
      s.security ? [{ datacenter: s.datacenter, node: nodeName(s.datacenter), ...s.security.tokens }] : [],
    );
    const index = await bootstrapConsulAcls(first.ep, mesh.replicationToken, tokens);
    // A secondary resolves its own tokens only once it has replicated them.
    await Promise.all(rest.map(({ dc, ep }) => wait(dc, 'ACL replication', () => replicatedTo(ep, index))));
  }
  return started.map(({ dc }) => dc);
}

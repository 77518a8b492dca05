/**
 * Federation through real Consul secured as `meshfed up` secures it (src/cli/runner/
 * consul-security.ts): HTTPS only, ACLs with default deny, one token per cluster. The shared
 * scenarios pass with each controller on its own token, which shows the policies grant what
 * federation needs; the rows below show what they refuse.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { consulRequest } from '../../src/cli/runner/consul-http.ts';
import { toRegistrations } from '../../src/federation/consul/conversion.ts';
import { createDiscoveryBackend, type DiscoveryBackend } from '../../src/federation/index.ts';
import { type ConsulDatacenter, type ConsulDatacenters, startConsulDatacenters } from '../support/consul.ts';
import { findTool } from '../support/tools.ts';
import { exportsOf, makeRootCert } from './fixtures.ts';
import { type FederationEnv, scenarios } from './scenarios.ts';

const HOST = '127.190.0.1';
let consul: ConsulDatacenters | undefined;

test.before(async () => {
  consul = await startConsulDatacenters({ names: ['east', 'west', 'south'], host: HOST, basePort: 19500, secure: true });
});

test.after.always(async () => {
  await consul?.stop();
});

function dc(name: string): ConsulDatacenter {
  const found = consul?.dcs.find((d) => d.name === name);
  if (!found?.tls || !found.federationToken) throw new Error(`no secured datacenter ${name}`);
  return found;
}

/** A backend on `name`'s agent: its own token unless another is given, the mesh root for TLS. */
function backendOf(name: string, opts: { token?: string | null; ca?: string } = {}): DiscoveryBackend {
  const d = dc(name);
  const token = opts.token === undefined ? d.federationToken : opts.token;
  return createDiscoveryBackend('consul', {
    host: d.host,
    port: d.httpPort,
    requestTimeoutMs: 3000,
    ...(token !== null && token !== undefined ? { token } : {}),
    tls: { ca: opts.ca ?? d.tls?.caPem ?? '' },
  });
}

const env: FederationEnv = { backend: (cluster) => backendOf(cluster) };

for (const scenario of scenarios) {
  test.serial(`consul with ACLs and TLS: ${scenario.title}`, async (t) => {
    await scenario.run(t, env);
  });
}

const [registration] = toRegistrations(exportsOf('east', '127.190.1.1', ['acl-probe']), { ttlSeconds: 30 }).registrations;

interface RefusalRow {
  name: string;
  /** Runs the attempt; resolves with the error code the backend returned, or 'ok'. */
  attempt(): Promise<string>;
  code: string;
}

async function codeOf(backend: DiscoveryBackend, call: (b: DiscoveryBackend) => Promise<{ ok: boolean; errors?: unknown }>): Promise<string> {
  try {
    const r = await call(backend);
    if (r.ok) return 'ok';
    const err = r.errors;
    return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'unknown';
  } finally {
    await backend.close();
  }
}

const REFUSALS: RefusalRow[] = [
  {
    name: 'a workload with no token cannot register an endpoint',
    attempt: () => codeOf(backendOf('east', { token: null }), (b) => b.register(registration ?? fail())),
    code: 'DISCOVERY_PERMISSION_DENIED',
  },
  {
    name: 'a workload with no token cannot publish a trust bundle',
    attempt: () => codeOf(backendOf('east', { token: null }), (b) => b.putTrustBundle('east', makeRootCert('forged'))),
    code: 'DISCOVERY_PERMISSION_DENIED',
  },
  {
    name: "west's token cannot publish east's trust bundle",
    attempt: () => codeOf(backendOf('west'), (b) => b.putTrustBundle('east', makeRootCert('forged'))),
    code: 'DISCOVERY_PERMISSION_DENIED',
  },
  {
    name: 'a made-up token is refused (Consul answers 403 "ACL not found")',
    attempt: () => codeOf(backendOf('east', { token: '00000000-0000-4000-8000-000000000000' }), (b) => b.register(registration ?? fail())),
    code: 'DISCOVERY_PERMISSION_DENIED',
  },
  {
    name: 'an agent certificate from another CA is refused before any request',
    attempt: () => codeOf(backendOf('east', { ca: makeRootCert('not the mesh') }), (b) => b.datacenters()),
    code: 'DISCOVERY_UNAVAILABLE',
  },
  {
    name: "east's own token registers in east (the control row)",
    attempt: () =>
      codeOf(backendOf('east'), async (b) => {
        const r = await b.register(registration ?? fail());
        await b.deregister(registration?.id ?? '');
        return r;
      }),
    code: 'ok',
  },
];

function fail(): never {
  throw new Error('no registration built');
}

for (const row of REFUSALS) {
  test.serial(`consul ACLs: ${row.name}`, async (t) => {
    t.is(await row.attempt(), row.code);
  });
}

test.serial("consul ACLs: west's token cannot register an endpoint in east's datacenter, even through the catalog", async (t) => {
  const west = dc('west');
  const east = dc('east');
  const body = { Node: 'east-server', Address: east.host, Service: { ID: 'forged', Service: 'reviews', Tags: ['meshfed'], Address: '127.190.9.9', Port: 15443 } };
  const forged = await consulRequest({ address: west.host, port: west.httpPort, caPem: west.tls?.caPem, token: west.federationToken }, 'PUT', '/v1/catalog/register?dc=east', body);
  t.is(forged.status, 403);
  const listed = await consulRequest({ address: east.host, port: east.httpPort, caPem: east.tls?.caPem, token: east.federationToken }, 'GET', '/v1/catalog/service/reviews');
  t.is(listed.status, 200);
  t.false(listed.body.includes('127.190.9.9'), 'nothing forged reached the catalog');
});

test.serial('consul TLS: the API answers plain HTTP with 400 and serves nothing', async (t) => {
  const east = dc('east');
  const r = await consulRequest({ address: east.host, port: east.httpPort, token: east.federationToken }, 'GET', '/v1/kv/meshfed/trust-bundle/east');
  t.is(r.status, 400);
  t.regex(r.body, /HTTP request to an HTTPS server/);
});

test.serial("consul ACLs: the consul CLI, with Consul's own environment variables, reads with the token and is denied without it", async (t) => {
  const east = dc('east');
  const tokenFile = join(tmpdir(), `meshfed-acl-${process.pid}.token`);
  writeFileSync(tokenFile, east.federationToken ?? '', { mode: 0o600 });
  const run = promisify(execFile);
  const base = { ...process.env, CONSUL_HTTP_ADDR: `https://${east.httpAddr}`, CONSUL_CACERT: east.tls?.caFile ?? '' };
  const withToken = await run(findTool('consul'), ['catalog', 'datacenters'], { env: { ...base, CONSUL_HTTP_TOKEN_FILE: tokenFile } });
  t.deepEqual(withToken.stdout.trim().split('\n').sort(), ['east', 'south', 'west']);
  const denied = await run(findTool('consul'), ['kv', 'put', 'meshfed/trust-bundle/east', 'forged'], { env: base }).then(
    () => 'accepted',
    (e: unknown) => String((e as { stderr?: unknown }).stderr ?? e),
  );
  t.regex(denied, /Permission denied/);
});

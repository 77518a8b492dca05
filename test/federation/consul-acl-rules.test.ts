import test from 'ava';
import { agentPolicy, federationPolicies, replicationPolicy } from '../../src/federation/consul/acl-rules.ts';
import { consulAgentConfig } from '../../src/cli/runner/consul-agent-config.ts';

/** A rule lookup: the policy a rules document grants on `kind` `segment`. */
function grant(rules: string, kind: string, segment: string): unknown {
  const doc = JSON.parse(rules) as Record<string, Record<string, { policy: string }> | string>;
  const section = doc[kind];
  return typeof section === 'string' ? section : section?.[segment]?.policy;
}

const ROWS: { name: string; policy: () => { Rules: string; Datacenters?: string[] }; kind: string; segment: string; grants: unknown; datacenters: string[] | undefined }[] = [
  { name: "east's controller writes services, in east only", policy: () => federationPolicies('east')[0] ?? fail(), kind: 'service_prefix', segment: '', grants: 'write', datacenters: ['east'] },
  { name: "east's controller writes its own trust bundle, in east only", policy: () => federationPolicies('east')[0] ?? fail(), kind: 'key', segment: 'meshfed/trust-bundle/east', grants: 'write', datacenters: ['east'] },
  { name: "east's controller has no rule for west's trust bundle key", policy: () => federationPolicies('east')[0] ?? fail(), kind: 'key', segment: 'meshfed/trust-bundle/west', grants: undefined, datacenters: ['east'] },
  { name: 'every controller reads services everywhere', policy: () => federationPolicies('east')[1] ?? fail(), kind: 'service_prefix', segment: '', grants: 'read', datacenters: undefined },
  { name: 'every controller reads nodes everywhere (health reads)', policy: () => federationPolicies('east')[1] ?? fail(), kind: 'node_prefix', segment: '', grants: 'read', datacenters: undefined },
  { name: 'every controller reads every trust bundle', policy: () => federationPolicies('east')[1] ?? fail(), kind: 'key_prefix', segment: 'meshfed/trust-bundle/', grants: 'read', datacenters: undefined },
  { name: 'the shared read policy reads no other key', policy: () => federationPolicies('east')[1] ?? fail(), kind: 'key_prefix', segment: '', grants: undefined, datacenters: undefined },
  { name: "an agent writes only its own node, in its datacenter", policy: () => agentPolicy('west', 'west-server'), kind: 'node', segment: 'west-server', grants: 'write', datacenters: ['west'] },
  { name: 'replication needs ACL write', policy: replicationPolicy, kind: 'acl', segment: '', grants: 'write', datacenters: undefined },
];

function fail(): never {
  throw new Error('missing policy');
}

for (const row of ROWS) {
  test(`acl rules: ${row.name}`, (t) => {
    const p = row.policy();
    t.is(grant(p.Rules, row.kind, row.segment), row.grants);
    t.deepEqual(p.Datacenters, row.datacenters);
  });
}

test('acl rules: policy names differ per cluster, and the read policy is shared', (t) => {
  const east = federationPolicies('east').map((p) => p.Name);
  const west = federationPolicies('west').map((p) => p.Name);
  t.not(east[0], west[0]);
  t.is(east[1], west[1]);
});

const MESH = { primaryDatacenter: 'west', managementToken: 'm-token', replicationToken: 'r-token', gossipKey: 'a2V5' };
const TLS = { caFile: '/ca.pem', certFile: '/cert.pem', keyFile: '/key.pem' };

const CONFIG_ROWS: { name: string; datacenter: string; path: string[]; value: unknown }[] = [
  { name: 'the primary holds the management token', datacenter: 'west', path: ['acl', 'tokens', 'master'], value: 'm-token' },
  { name: 'a secondary never holds the management token', datacenter: 'east', path: ['acl', 'tokens', 'master'], value: undefined },
  { name: 'a secondary replicates tokens', datacenter: 'east', path: ['acl', 'enable_token_replication'], value: true },
  { name: 'a secondary replicates with the replication token', datacenter: 'east', path: ['acl', 'tokens', 'replication'], value: 'r-token' },
  { name: 'the primary does not replicate', datacenter: 'west', path: ['acl', 'enable_token_replication'], value: undefined },
  { name: 'ACLs deny by default', datacenter: 'east', path: ['acl', 'default_policy'], value: 'deny' },
  { name: 'plain HTTP is off', datacenter: 'east', path: ['ports', 'http'], value: -1 },
  { name: 'HTTPS serves the API', datacenter: 'east', path: ['ports', 'https'], value: 8501 },
  { name: 'server RPC checks the peer server name', datacenter: 'east', path: ['verify_server_hostname'], value: true },
  { name: 'server RPC requires a client certificate', datacenter: 'east', path: ['verify_incoming_rpc'], value: true },
  { name: 'gossip is encrypted', datacenter: 'east', path: ['encrypt'], value: 'a2V5' },
  { name: 'every agent knows the primary', datacenter: 'east', path: ['primary_datacenter'], value: 'west' },
];

for (const row of CONFIG_ROWS) {
  test(`consul agent config: ${row.name}`, (t) => {
    const config = consulAgentConfig(MESH, { datacenter: row.datacenter, httpsPort: 8501, tls: TLS, agentToken: `${row.datacenter}-agent` });
    let at: unknown = config;
    for (const key of row.path) at = typeof at === 'object' && at !== null ? (at as Record<string, unknown>)[key] : undefined;
    t.is(at, row.value);
  });
}

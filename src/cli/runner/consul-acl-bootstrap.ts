/**
 * Sets up Consul's ACLs for a mesh once every datacenter is WAN-joined: on the primary, with the
 * management token, it writes the policies of src/federation/consul/acl-rules.ts and one token per
 * agent and per federation controller. Token SecretIDs are chosen by the runner beforehand (Consul
 * accepts a given SecretID), so each agent starts with its own `acl.tokens.agent` already in its
 * configuration and picks the token up once it exists.
 */
import { type ConsulAclPolicy, agentPolicy, federationPolicies, replicationPolicy } from '../../federation/consul/acl-rules.ts';
import { type ConsulEndpoint, consulRequest } from './consul-http.ts';

/** The tokens of one datacenter, SecretIDs chosen by the runner. */
export interface DatacenterTokens {
  datacenter: string;
  node: string;
  agentToken: string;
  federationToken: string;
}

/** Writes one ACL object; resolves with its `ModifyIndex`. */
async function put(primary: ConsulEndpoint, path: string, body: unknown): Promise<number> {
  const r = await consulRequest(primary, 'PUT', path, body);
  if (r.status !== 200) throw new Error(`consul ACL bootstrap: PUT ${path}: HTTP ${r.status}: ${r.body.trim()}`);
  const index: unknown = (JSON.parse(r.body) as { ModifyIndex?: unknown }).ModifyIndex;
  if (typeof index !== 'number') throw new Error(`consul ACL bootstrap: PUT ${path}: no ModifyIndex in ${r.body.trim()}`);
  return index;
}

/** Raft indexes of the last policy and token writes. */
export interface AclWriteIndex {
  policies: number;
  tokens: number;
}

/**
 * Creates every policy and token on `primary` (an endpoint carrying the management token), the
 * secondaries' replication token first. Resolves with the Raft indexes of the last writes: a
 * secondary whose replication status has reached them holds every policy and token. Throws with
 * Consul's answer when a write is refused.
 */
export async function bootstrapConsulAcls(primary: ConsulEndpoint, replicationToken: string, datacenters: DatacenterTokens[]): Promise<AclWriteIndex> {
  const last: AclWriteIndex = { policies: 0, tokens: 0 };
  const written = new Set<string>();
  const policy = async (p: ConsulAclPolicy): Promise<void> => {
    if (written.has(p.Name)) return;
    last.policies = Math.max(last.policies, await put(primary, '/v1/acl/policy', p));
    written.add(p.Name);
  };
  const token = async (secretId: string, description: string, policies: ConsulAclPolicy[]): Promise<void> => {
    for (const p of policies) await policy(p);
    const body = { SecretID: secretId, Description: description, Policies: policies.map((p) => ({ Name: p.Name })) };
    last.tokens = Math.max(last.tokens, await put(primary, '/v1/acl/token', body));
  };
  await token(replicationToken, 'ACL replication of the secondary datacenters', [replicationPolicy()]);
  for (const dc of datacenters) {
    await token(dc.agentToken, `agent token of ${dc.node}`, [agentPolicy(dc.datacenter, dc.node)]);
    await token(dc.federationToken, `meshfed federation controller of cluster ${dc.datacenter}`, federationPolicies(dc.datacenter));
  }
  return last;
}

/** True once a secondary's ACL replication has applied every write up to `index`. */
export async function replicatedTo(secondary: ConsulEndpoint, index: AclWriteIndex): Promise<boolean> {
  try {
    const r = await consulRequest(secondary, 'GET', '/v1/acl/replication');
    if (r.status !== 200) return false;
    const status = JSON.parse(r.body) as { Running?: unknown; ReplicatedIndex?: unknown; ReplicatedTokenIndex?: unknown };
    return (
      status.Running === true &&
      typeof status.ReplicatedIndex === 'number' &&
      typeof status.ReplicatedTokenIndex === 'number' &&
      status.ReplicatedIndex >= index.policies &&
      status.ReplicatedTokenIndex >= index.tokens
    );
  } catch {
    return false;
  }
}

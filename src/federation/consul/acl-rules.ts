/**
 * The Consul ACL policies a cluster's federation controller runs under. With Consul's default
 * policy `deny`, a workload that can reach Consul but holds no token can neither register nor
 * read anything, and a controller's token writes only in its own datacenter:
 * - `meshfed-federation-<cluster>`: valid only in the cluster's own datacenter. Service write (the
 *   exports, their TTL checks and deregistration) and write of the cluster's own trust-bundle key.
 * - `meshfed-federation-read`: valid in every datacenter. Service and node read (catalog and health
 *   reads of the imports) and read of every trust-bundle key.
 *
 * Importers also drop an instance whose `cluster` meta differs from the datacenter it was read from
 * (fromHealthEntries), so a cluster's token cannot pass endpoints off as another cluster's.
 * Rules are Consul's JSON rule syntax (Consul parses HCL and JSON alike).
 */
import { trustBundleKey } from '../discovery-interface.ts';

/** One Consul ACL policy, as `PUT /v1/acl/policy` takes it. */
export interface ConsulAclPolicy {
  Name: string;
  Description: string;
  /** The rules document, JSON text. */
  Rules: string;
  /** Datacenters the policy is valid in; absent means every datacenter. */
  Datacenters?: string[];
}

/** Name of the policy every federation controller shares. */
export const FEDERATION_READ_POLICY = 'meshfed-federation-read';

/** The trust-bundle keys' common prefix (`meshfed/trust-bundle/`). */
const TRUST_BUNDLE_PREFIX = trustBundleKey('');

/** The policies of `cluster`'s federation controller token: its own writes, and the shared reads. */
export function federationPolicies(cluster: string): ConsulAclPolicy[] {
  return [
    {
      Name: `meshfed-federation-${cluster}`,
      Description: `meshfed federation controller of cluster ${cluster}: exports and trust bundle, in its own datacenter only`,
      Rules: JSON.stringify({
        service_prefix: { '': { policy: 'write' } },
        key: { [trustBundleKey(cluster)]: { policy: 'write' } },
      }),
      Datacenters: [cluster],
    },
    federationReadPolicy(),
  ];
}

/** Read access to every datacenter's services, nodes and trust bundles. */
export function federationReadPolicy(): ConsulAclPolicy {
  return {
    Name: FEDERATION_READ_POLICY,
    Description: 'meshfed federation controllers: read imports and trust bundles of every datacenter',
    Rules: JSON.stringify({
      service_prefix: { '': { policy: 'read' } },
      node_prefix: { '': { policy: 'read' } },
      key_prefix: { [TRUST_BUNDLE_PREFIX]: { policy: 'read' } },
    }),
  };
}

/**
 * The policy of a datacenter's own agent token (Consul's `acl.tokens.agent`): it registers its node
 * and reads services to sync them, in that datacenter only.
 */
export function agentPolicy(datacenter: string, node: string): ConsulAclPolicy {
  return {
    Name: `meshfed-agent-${datacenter}`,
    Description: `Consul agent ${node} of datacenter ${datacenter}`,
    Rules: JSON.stringify({
      node: { [node]: { policy: 'write' } },
      service_prefix: { '': { policy: 'read' } },
    }),
    Datacenters: [datacenter],
  };
}

/** The policy of the secondaries' replication token: ACL write (token replication) and service read. */
export function replicationPolicy(): ConsulAclPolicy {
  return {
    Name: 'meshfed-acl-replication',
    Description: 'secondary datacenters replicate ACL policies and tokens from the primary',
    Rules: JSON.stringify({ acl: 'write', operator: 'read', service_prefix: { '': { policy: 'read' } }, intention_prefix: { '': { policy: 'read' } } }),
  };
}

/**
 * The configuration file of one `consul agent -dev` when the runner secures Consul: ACLs with
 * `default_policy = deny`, the first datacenter as the primary (it holds the management token and
 * the policies), HTTPS only for the API, TLS with hostname checks on server RPC across datacenters,
 * and encrypted gossip. Pure: the caller writes the result as JSON beside the agent's log.
 */

/** The files of a datacenter's TLS identity, signed by its cluster's intermediate CA. */
export interface ConsulTlsFiles {
  /** The mesh root: verifies peers' RPC certificates, and the HTTPS clients' when they present one. */
  caFile: string;
  /** Leaf and intermediate, PEM; SANs `server.<dc>.consul`, `localhost` and the agent's address. */
  certFile: string;
  keyFile: string;
}

/** What secures every agent of one mesh. */
export interface ConsulSecuritySettings {
  /** The datacenter that holds ACL state (the first cluster). */
  primaryDatacenter: string;
  /** The bootstrap management token (Consul's `acl.tokens.master`), honoured by the primary only. */
  managementToken: string;
  /** Base64 of 32 random bytes: the shared gossip key (`encrypt`). */
  gossipKey: string;
  /**
   * The secondaries' replication token (`acl.tokens.replication`). Secondaries replicate policies
   * and tokens from the primary: without that they resolve tokens in legacy mode, where a policy
   * limited to the secondary's own datacenter does not apply there.
   */
  replicationToken: string;
}

/** One agent's part of the configuration. */
export interface ConsulAgentSecurity {
  datacenter: string;
  httpsPort: number;
  tls: ConsulTlsFiles;
  /** The agent's own token (Consul's `acl.tokens.agent`); created on the primary once WAN-joined. */
  agentToken: string;
}

/** Consul 1.8's JSON configuration for one secured dev agent. */
export function consulAgentConfig(mesh: ConsulSecuritySettings, agent: ConsulAgentSecurity): Record<string, unknown> {
  const primary = agent.datacenter === mesh.primaryDatacenter;
  return {
    primary_datacenter: mesh.primaryDatacenter,
    acl: {
      enabled: true,
      default_policy: 'deny',
      // A partitioned secondary keeps the tokens it resolved rather than denying its own controller.
      down_policy: 'extend-cache',
      ...(primary ? {} : { enable_token_replication: true }),
      tokens: {
        agent: agent.agentToken,
        ...(primary ? { master: mesh.managementToken } : { replication: mesh.replicationToken }),
      },
    },
    encrypt: mesh.gossipKey,
    ca_file: agent.tls.caFile,
    cert_file: agent.tls.certFile,
    key_file: agent.tls.keyFile,
    verify_outgoing: true,
    verify_incoming_rpc: true,
    verify_server_hostname: true,
    // HTTPS clients authenticate with their ACL token; a client certificate is not required.
    verify_incoming_https: false,
    ports: { http: -1, https: agent.httpsPort },
  };
}

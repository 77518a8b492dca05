/**
 * The material a secured Consul start needs, made by the runner before any agent starts: per
 * datacenter a serving certificate from the cluster's own intermediate CA (the mesh's CA, as every
 * other certificate here), random ACL token SecretIDs, and one shared gossip key and management
 * token. Files are written mode 0600 under `<stateDir>/consul/`; the CA file is a copy of the
 * mesh root taken at start, so a later root rotation does not change what Consul trusts mid-run.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { issueServingCertificate } from '../../citadel/ca-signer.ts';
import { loadCa } from '../../citadel/ca-files.ts';
import type { ConsulDatacenterSecurity, ConsulMeshSecurity } from './consul-agents.ts';

/** Lifetime of a Consul serving certificate: a year, capped by the intermediate's own expiry. */
const CONSUL_CERT_TTL_SECONDS = 365 * 24 * 3600;

/** One datacenter to secure. */
export interface ConsulSecurityTarget {
  datacenter: string;
  /** The agent's address, an IP SAN of its certificate. */
  address: string;
  /** The cluster's CA folder (Istio's plug-in layout), e.g. `<stateDir>/ca/<cluster>`. */
  caDir: string;
}

/** Everything startConsulDatacenters needs for a secured start. */
export interface PreparedConsulSecurity {
  mesh: ConsulMeshSecurity;
  byDatacenter: Map<string, ConsulDatacenterSecurity>;
}

async function secret(file: string, text: string): Promise<string> {
  await writeFile(file, text, { mode: 0o600 });
  return file;
}

/** Issues the certificates and tokens of every datacenter; the first one is the ACL primary. */
export async function prepareConsulSecurity(dir: string, targets: ConsulSecurityTarget[]): Promise<PreparedConsulSecurity> {
  const primary = targets[0];
  if (!primary) throw new Error('consul security: no datacenter');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const byDatacenter = new Map<string, ConsulDatacenterSecurity>();
  for (const t of targets) {
    const ca = await loadCa(t.caDir);
    const serving = issueServingCertificate({
      ca,
      // Consul checks `server.<dc>.consul` on RPC between servers (verify_server_hostname).
      dnsNames: [`server.${t.datacenter}.consul`, 'localhost'],
      ipAddresses: [t.address, '127.0.0.1'],
      ttlSeconds: CONSUL_CERT_TTL_SECONDS,
    });
    const tls = {
      caFile: await secret(consulCaFile(dir, t.datacenter), ca.rootPem),
      certFile: await secret(path.join(dir, `${t.datacenter}-cert.pem`), serving.certChainPem),
      keyFile: await secret(path.join(dir, `${t.datacenter}-key.pem`), serving.privateKeyPem),
    };
    byDatacenter.set(t.datacenter, {
      tls,
      caPem: ca.rootPem,
      tokens: { agentToken: randomUUID(), federationToken: randomUUID() },
    });
  }
  const mesh: ConsulMeshSecurity = {
    configDir: dir,
    primaryDatacenter: primary.datacenter,
    managementToken: randomUUID(),
    replicationToken: randomUUID(),
    gossipKey: randomBytes(32).toString('base64'),
  };
  return { mesh, byDatacenter };
}

/** Writes a datacenter's federation token where `--consul-token-file` reads it; returns the path. */
export function writeFederationToken(dir: string, datacenter: string, token: string): Promise<string> {
  return secret(path.join(dir, `${datacenter}-federation.token`), `${token}\n`);
}

/** Where a datacenter's CA file is: the roots its clients verify the agent with. */
export function consulCaFile(dir: string, datacenter: string): string {
  return path.join(dir, `${datacenter}-ca.pem`);
}

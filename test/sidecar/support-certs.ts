import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type CaMaterial, formatSpiffeId, initCa, loadCa, signWorkloadCsr } from '../../src/citadel/index.ts';
import { generateKeyAndCsr } from '../../src/citadel/certificate-client.ts';
import type { CertBundle } from '../../src/sidecar/index.ts';

/**
 * Test certificate authority: a real Citadel CA (initCa) in a temp folder, issuing workload
 * bundles through Citadel's CSR signer, exactly as the CA service would.
 */
export interface TestCa {
  ca: CaMaterial;
  trustDomain: string;
  /** `trustDomain`: another trust domain than the CA's (an alias, or a foreign one), same CA. */
  issue(namespace: string, serviceAccount: string, ttlSeconds?: number, trustDomain?: string): CertBundle;
  dispose(): Promise<void>;
}

export async function createTestCa(cluster = 'east', trustDomain = 'cluster.local'): Promise<TestCa> {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-sidecar-ca-'));
  await initCa({ dir, clusters: [cluster], trustDomain });
  const ca = await loadCa(path.join(dir, cluster));
  return {
    ca,
    trustDomain,
    issue(namespace, serviceAccount, ttlSeconds, otherTrustDomain) {
      const identity = { trustDomain: otherTrustDomain ?? trustDomain, namespace, serviceAccount };
      const spiffeId = formatSpiffeId(identity);
      const { privateKeyPem, csrPem } = generateKeyAndCsr(spiffeId);
      const signed = signWorkloadCsr({ ca, csrPem, identity, ...(ttlSeconds ? { ttlSeconds } : {}) });
      if (!signed.ok) throw signed.errors;
      const [leaf, ...rest] = signed.value.certChainPem;
      const chain = [leaf, ...rest.filter((p) => p !== ca.rootPem)].join('');
      const x509 = new X509Certificate(leaf ?? '');
      return {
        privateKeyPem,
        certChainPem: chain,
        rootsPem: ca.rootPem,
        spiffeId,
        notBefore: new Date(x509.validFrom),
        notAfter: new Date(x509.validTo),
      };
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

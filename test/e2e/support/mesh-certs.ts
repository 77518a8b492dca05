import path from 'node:path';
import { loadCa, signWorkloadCsr } from '../../../src/citadel/index.ts';
import { generateKeyAndCsr } from '../../../src/citadel/certificate-client.ts';

/** A workload certificate signed by `<caDir>/<cluster>`'s intermediate, as Citadel issues them. */
export async function workloadCert(
  caDir: string,
  cluster: string,
  identity: { trustDomain: string; namespace: string; serviceAccount: string },
): Promise<{ key: string; cert: string; ca: string }> {
  const ca = await loadCa(path.join(caDir, cluster));
  const spiffe = `spiffe://${identity.trustDomain}/ns/${identity.namespace}/sa/${identity.serviceAccount}`;
  const { privateKeyPem, csrPem } = generateKeyAndCsr(spiffe);
  const signed = signWorkloadCsr({ ca, csrPem, identity });
  if (!signed.ok) throw new Error(`signing failed: ${String(signed.errors)}`);
  const chain = signed.value.certChainPem;
  return { key: privateKeyPem, cert: chain.slice(0, -1).join(''), ca: chain.at(-1) ?? '' };
}

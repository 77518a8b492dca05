/**
 * Citadel's signing rate: how many workload certificates one Citadel process issues per second.
 *
 * 1. **Native signing**: signWorkloadCsr on pre-made CSRs, in this process, for each CA key
 *    algorithm: the CA's whole work per certificate (CSR parse, proof-of-possession check, key and
 *    SAN checks, certificate build, signature).
 * 2. **Over gRPC**: requestCertificate calls from 16 concurrent clients to a real Citadel
 *    (IstioCertificateService over TLS) on loopback, each call on a new channel as a sidecar makes
 *    it (TLS handshake, key and CSR generation, chain verification on the client side included),
 *    sharing the machine's cores with the clients.
 *
 *   node --import tsx bench/citadel-signing.ts [--seconds 3] [--concurrency 16]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { generateKeyAndCsr } from '../src/citadel/certificate-client.ts';
import {
  type CaMaterial,
  initCa,
  issueServingCertificate,
  type KeyAlgorithm,
  loadCa,
  requestCertificate,
  signWorkloadCsr,
  startCitadel,
} from '../src/citadel/index.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '16' } } });
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
const TRUST_DOMAIN = 'cluster.local';
const IDENTITY = { trustDomain: TRUST_DOMAIN, namespace: 'default', serviceAccount: 'bench' } as const;
const SPIFFE_ID = `spiffe://${TRUST_DOMAIN}/ns/default/sa/bench`;
const CSR_POOL = 500;

async function caOf(dir: string, keyAlgorithm: KeyAlgorithm): Promise<CaMaterial> {
  const folder = path.join(dir, keyAlgorithm);
  await initCa({ dir: folder, clusters: ['east'], trustDomain: TRUST_DOMAIN, keyAlgorithm });
  return loadCa(path.join(folder, 'east'));
}

/** Certificates per second signed in-process for `SECONDS`, cycling over a pool of CSRs. */
function nativeRate(ca: CaMaterial, csrs: string[]): number {
  const end = performance.now() + SECONDS * 1000;
  const start = performance.now();
  let n = 0;
  while (performance.now() < end) {
    const r = signWorkloadCsr({ ca, csrPem: csrs[n % csrs.length]!, identity: IDENTITY });
    if (!r.ok) throw new Error(r.errors.message);
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

/** Certificates per second issued over gRPC by `CONCURRENCY` clients for `SECONDS`. */
async function grpcRate(ca: CaMaterial): Promise<{ rate: number; failures: number }> {
  const serving = issueServingCertificate({ ca, dnsNames: ['citadel.bench'], ttlSeconds: 3600 });
  const citadel = await startCitadel({
    host: '127.0.0.1',
    port: 0,
    ca,
    trustDomain: TRUST_DOMAIN,
    authenticate: () => ({ namespace: IDENTITY.namespace, serviceAccount: IDENTITY.serviceAccount }),
    servingCert: serving,
    logger: pino({ level: 'silent' }),
  });
  let done = 0;
  let failures = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      try {
        await requestCertificate({ target: `127.0.0.1:${citadel.port}`, rootsPem: ca.rootPem, serverName: 'citadel.bench', token: 'bench', identity: IDENTITY });
        done++;
      } catch {
        failures++;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const rate = done / ((performance.now() - start) / 1000);
  await citadel.close();
  return { rate, failures };
}

const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-bench-citadel-'));
try {
  const rows: string[] = [];
  const csrs = Array.from({ length: CSR_POOL }, () => generateKeyAndCsr(SPIFFE_ID, 'ecdsa-p256').csrPem);
  for (const caAlgorithm of ['ecdsa-p256', 'rsa-2048'] as const) {
    const ca = await caOf(dir, caAlgorithm);
    rows.push(`| native signWorkloadCsr, CA key ${caAlgorithm}, workload key ecdsa-p256 | ${Math.round(nativeRate(ca, csrs)).toLocaleString('en-US')} |`);
  }
  const ecCa = await caOf(dir, 'ecdsa-p256');
  const rsaCsrs = Array.from({ length: 50 }, () => generateKeyAndCsr(SPIFFE_ID, 'rsa-2048').csrPem);
  rows.push(`| native signWorkloadCsr, CA key ecdsa-p256, workload key rsa-2048 | ${Math.round(nativeRate(ecCa, rsaCsrs)).toLocaleString('en-US')} |`);
  const overGrpc = await grpcRate(ecCa);
  rows.push(
    `| gRPC CreateCertificate, ${CONCURRENCY} clients, new TLS channel per call, CA key ecdsa-p256 | ${Math.round(overGrpc.rate).toLocaleString('en-US')} (${overGrpc.failures} failed) |`,
  );
  process.stdout.write(`\n## Citadel signing (${SECONDS} s per row, Node ${process.version})\n\n| what | certificates/s |\n|---|---:|\n${rows.join('\n')}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}

/**
 * Shared fixtures of the federation tests: real self-signed root certificates, a recording import
 * sink, a fault-injecting backend wrapper, and a polling wait.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import forge from 'node-forge';
import type {
  DiscoveryBackend,
  FederationEvent,
  ImportedEndpoint,
  ImportSink,
  LocalExportState,
} from '../../src/federation/index.ts';
import { DiscoveryError } from '../../src/federation/index.ts';

/** A self-signed CA certificate (PEM) named `commonName`. */
export function makeRootCert(commonName: string): string {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  const name = [{ name: 'commonName', value: commonName }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([{ name: 'basicConstraints', cA: true }]);
  cert.sign(key, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** An ImportSink that keeps each cluster's shard and a log of calls. */
export class RecordingSink implements ImportSink {
  readonly shards = new Map<string, ImportedEndpoint[]>();
  readonly calls: string[] = [];

  replaceCluster(cluster: string, endpoints: ImportedEndpoint[]): void {
    this.calls.push(`replace ${cluster} ${endpoints.length}`);
    this.shards.set(cluster, endpoints);
  }

  removeCluster(cluster: string): void {
    this.calls.push(`remove ${cluster}`);
    this.shards.delete(cluster);
  }

  /** Workload:port pairs of a cluster's shard, sorted. */
  summary(cluster: string): string[] {
    return (this.shards.get(cluster) ?? []).map((e) => `${e.service}/${e.workload}:${e.port}`).sort();
  }
}

/** Collects events; `has` matches a subset of fields. */
export class EventLog {
  readonly events: FederationEvent[] = [];
  readonly push = (e: FederationEvent): void => {
    this.events.push(e);
  };

  has(match: Partial<Record<string, unknown>> & { type: FederationEvent['type'] }): boolean {
    return this.events.some((e) => Object.entries(match).every(([k, v]) => (e as Record<string, unknown>)[k] === v));
  }
}

/** Polls `check` until it returns true; throws naming `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for: ${what}`);
}

/**
 * Wraps a backend so that a test can make every watch of a datacenter fail, as a WAN partition
 * would, while the rest keeps working.
 */
export function withFaults(inner: DiscoveryBackend): { backend: DiscoveryBackend; cut: Set<string> } {
  const cut = new Set<string>();
  const refused = (dc: string) =>
    Promise.resolve({ ok: false as const, errors: new DiscoveryError('DISCOVERY_UNAVAILABLE', `no path to ${dc}`) });
  const backend: DiscoveryBackend = {
    kind: inner.kind,
    register: (r) => inner.register(r),
    deregister: (id) => inner.deregister(id),
    heartbeat: (id) => inner.heartbeat(id),
    localServiceIds: () => inner.localServiceIds(),
    datacenters: () => inner.datacenters(),
    watchServiceNames: (dc, o) => (cut.has(dc) ? refused(dc) : inner.watchServiceNames(dc, o)),
    watchServiceHealth: (dc, s, o) => (cut.has(dc) ? refused(dc) : inner.watchServiceHealth(dc, s, o)),
    putTrustBundle: (c, pem) => inner.putTrustBundle(c, pem),
    getTrustBundle: (dc, c) => (cut.has(dc) ? refused(dc) : inner.getTrustBundle(dc, c)),
    close: () => inner.close(),
  };
  return { backend, cut };
}

/** An export state of `cluster` with one service per name, two workloads each. */
export function exportsOf(cluster: string, gatewayAddress: string, services: string[]): LocalExportState {
  return {
    cluster,
    gateway: { address: gatewayAddress, port: 15443 },
    exports: services.map((name) => ({
      namespace: 'default',
      name,
      hostname: `${name}.default.svc.cluster.local`,
      ports: [{ port: 9080, protocol: 'http' as const }],
      endpoints: ['v1', 'v2'].map((v) => ({
        workload: `${name}-${v}`,
        serviceAccount: `${name}-sa`,
        labels: { app: name, version: v },
      })),
    })),
  };
}

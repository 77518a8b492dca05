import type { WorkloadRegistryFile, WorkloadSpec } from '../../src/common/workload.ts';

/** The benchmark mesh's shape: services × replicas local endpoints in cluster `east`. */
export interface PushMeshShape {
  services: number;
  replicas: number;
}

/** Replica `r` of service `s`: an address in 127.79.0.0/16 (data only; nothing binds it). */
export function workloadAddress(s: number, r: number): string {
  const n = s * 16 + r;
  return `127.79.${Math.floor(n / 250) % 250}.${(n % 250) + 2}`;
}

/**
 * workloads.json of the mesh. `moved`: one replica (never replica 0, whose sidecar is connected)
 * gets another address, an endpoint-only change.
 */
export function pushMesh(shape: PushMeshShape, moved?: { service: number; replica: number; address: string }): WorkloadRegistryFile {
  const workloads: WorkloadSpec[] = [];
  for (let s = 0; s < shape.services; s++) {
    for (let r = 0; r < shape.replicas; r++) {
      const isMoved = moved !== undefined && moved.service === s && moved.replica === r;
      workloads.push({
        name: `w${s}-${r}`,
        namespace: 'default',
        serviceAccount: `svc${s}`,
        cluster: 'east',
        address: isMoved ? moved.address : workloadAddress(s, r),
        labels: { app: `svc${s}`, version: `v${r % 2}` },
        service: { name: `svc${s}`, port: 9080, protocol: 'http' },
        sidecar: true,
      });
    }
  }
  return { cluster: 'east', gatewayAddress: '127.79.255.1', workloads };
}

/**
 * Where the sidecar's admin port (15000) binds. Envoy's admin serves the whole configuration and
 * takes no credentials, so Istio binds it to localhost of the pod. meshfed's injector does the same
 * (`--admin-address 127.0.0.1`: one pod, one network namespace). The local runner gives each
 * workload an address of its own, on loopback or on `lo` of its cluster's namespace, shared with the
 * cluster's other workloads; there admin stays on the workload address, the only one it owns.
 * Health (15021) and metrics (15090) always bind the workload address, where kubelet and
 * Prometheus reach them.
 */
import net from 'node:net';
import { fail, ok, type Result } from '../common/result.ts';

/** True for 127.0.0.0/8 and ::1. */
export function isLoopbackAddress(address: string): boolean {
  if (net.isIPv4(address)) return address.startsWith('127.');
  return net.isIPv6(address) && (address === '::1' || address === '0:0:0:0:0:0:0:1');
}

/**
 * The admin bind address: `requested` when it is a loopback address or the workload's own, else
 * an error naming why; the workload address when nothing is requested.
 */
export function adminAddress(workloadAddress: string, requested?: string): Result<string, string> {
  if (requested === undefined || requested === workloadAddress) return ok(workloadAddress);
  if (isLoopbackAddress(requested)) return ok(requested);
  return fail(`admin address ${requested}: must be a loopback address or the workload's own (${workloadAddress}); admin serves the whole configuration without credentials`);
}

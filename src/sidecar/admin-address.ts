/**
 * Where the sidecar's admin port (15000) binds. Envoy's admin serves the whole configuration and
 * takes no credentials, so Istio binds it to localhost of the pod. meshfed does the same: a
 * workload on a loopback address (the local runner gives each workload its own, 127.N.c.x) keeps
 * it there, and a workload on any other address (a pod IP under Kubernetes) gets 127.0.0.1, or ::1
 * for an IPv6 workload. Health (15021) and metrics (15090) stay on the workload address, where
 * kubelet and Prometheus reach them.
 */
import net from 'node:net';

/** True for 127.0.0.0/8 and ::1. */
export function isLoopbackAddress(address: string): boolean {
  if (net.isIPv4(address)) return address.startsWith('127.');
  return net.isIPv6(address) && (address === '::1' || address === '0:0:0:0:0:0:0:1');
}

/** The admin bind address of a workload at `workloadAddress`. */
export function adminAddress(workloadAddress: string): string {
  if (isLoopbackAddress(workloadAddress)) return workloadAddress;
  return net.isIPv6(workloadAddress) ? '::1' : '127.0.0.1';
}

import { MeshfedError } from '../../common/errors.ts';

/** Base class of the cluster layer's errors. */
export class ClusterError extends MeshfedError {}

/** `createLoadBalancer` was asked for a name nobody registered (a programmer error: validators only pass known names). */
export class UnknownLoadBalancerError extends ClusterError {
  constructor(name: string) {
    super('CLUSTER_LB_UNKNOWN', `no load balancer registered as "${name}"`);
  }
}

/** `registerLoadBalancer` was called twice with one name. */
export class DuplicateLoadBalancerError extends ClusterError {
  constructor(name: string) {
    super('CLUSTER_LB_DUPLICATE', `a load balancer is already registered as "${name}"`);
  }
}

/** A DNS query of a STRICT_DNS / LOGICAL_DNS cluster failed (timeout, refused, server failure); the hosts stay as they were. */
export class DnsResolutionError extends ClusterError {
  constructor(name: string, reason: string, options?: { cause?: unknown }) {
    super('CLUSTER_DNS_FAILED', `cannot resolve ${name}: ${reason}`, options);
  }
}

/**
 * The cluster layer shared by the sidecar and the east-west gateway: load balancers chosen by
 * name, priorities and localities, outlier detection, circuit breakers, one UpstreamCluster per
 * cluster name behind a ClusterManager.
 */
export { CircuitBreaker, DEFAULT_THRESHOLDS, type Overflow } from './circuit-breaker.ts';
export { type ClusterManager, type ClusterManagerOptions, type ClusterNotFound, createClusterManager, endpointsOf } from './cluster-manager.ts';
export { DnsEndpoints, type DnsEndpointsEvents } from './dns-endpoints.ts';
export { createDnsLookup, type DnsAnswer, type DnsLookup } from './dns-resolver.ts';
export { ClusterError, DnsResolutionError, DuplicateLoadBalancerError, UnknownLoadBalancerError } from './errors.ts';
export { combineHashes, xxHash64 } from './hash.ts';
export { computeHashKey, type HashInput, type HashResult } from './hash-policy.ts';
export type { LbHost, LoadBalancer, LoadBalancerConfig, LoadBalancerContext, LoadBalancerFactory } from './load-balancer-interface.ts';
export { DEFAULT_CHOICE_COUNT } from './load-balancer-least-request.ts';
export { isPrime, MAGLEV_DEFAULT_TABLE_SIZE, MAGLEV_MAX_TABLE_SIZE } from './load-balancer-maglev.ts';
export { createLoadBalancer, HASH_BASED_LB_POLICIES, isLoadBalancerRegistered, registerLoadBalancer } from './load-balancer-registry.ts';
export { RING_HASH_DEFAULTS, RING_HASH_MAX_SIZE } from './load-balancer-ring-hash.ts';
export { type Outcome, OutlierDetector, type OutlierHostState, outcomeStatus } from './outlier-detector.ts';
export { choosePriority, computePriorityLoad, DEFAULT_HEALTHY_PANIC_THRESHOLD, type LevelHealth, localityEffectiveWeight, OVERPROVISIONING_FACTOR, type PriorityLoad } from './priority-set.ts';
export type { ClusterRuntime, ClusterStats, HostStats, PickContext, PickedHost, PickRefused, PickResult, UpstreamCluster } from './upstream-cluster.ts';

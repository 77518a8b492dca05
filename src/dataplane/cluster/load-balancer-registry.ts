import { DuplicateLoadBalancerError, UnknownLoadBalancerError } from './errors.ts';
import type { LoadBalancer, LoadBalancerConfig, LoadBalancerFactory } from './load-balancer-interface.ts';
import { LeastRequestLoadBalancer } from './load-balancer-least-request.ts';
import { MaglevLoadBalancer } from './load-balancer-maglev.ts';
import { RandomLoadBalancer } from './load-balancer-random.ts';
import { RingHashLoadBalancer } from './load-balancer-ring-hash.ts';
import { RoundRobinLoadBalancer } from './load-balancer-round-robin.ts';

/**
 * Load balancers by name (Envoy's `lb_policy` names), in the manner of grpc-js
 * `registerLoadBalancerType` / `createLoadBalancer`. The built-in ones are registered when this
 * module loads; `registerLoadBalancer` adds more (a name may be registered once).
 */
const factories = new Map<string, LoadBalancerFactory>();

export function registerLoadBalancer(name: string, factory: LoadBalancerFactory): void {
  if (factories.has(name)) throw new DuplicateLoadBalancerError(name);
  factories.set(name, factory);
}

/** Creates the load balancer registered as `name`; throws UnknownLoadBalancerError otherwise. */
export function createLoadBalancer(name: string, config: LoadBalancerConfig): LoadBalancer {
  const factory = factories.get(name);
  if (!factory) throw new UnknownLoadBalancerError(name);
  return factory(config);
}

export function isLoadBalancerRegistered(name: string): boolean {
  return factories.has(name);
}

/** Load balancers that choose by the request's hash key (no locality weighting inside them). */
export const HASH_BASED_LB_POLICIES: ReadonlySet<string> = new Set(['RING_HASH', 'MAGLEV']);

registerLoadBalancer('ROUND_ROBIN', () => new RoundRobinLoadBalancer());
registerLoadBalancer('LEAST_REQUEST', (c) => new LeastRequestLoadBalancer(c));
registerLoadBalancer('RANDOM', (c) => new RandomLoadBalancer(c));
registerLoadBalancer('RING_HASH', (c) => new RingHashLoadBalancer(c));
registerLoadBalancer('MAGLEV', (c) => new MaglevLoadBalancer(c));

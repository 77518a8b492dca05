import type { ProxyNode } from '../../xds/node.ts';
import type { XdsResource } from '../../xds/resources.ts';
import type { XdsTypeUrl } from '../../xds/type-urls.ts';

/** What the push server needs of a model snapshot: a version, used as every response's version_info. */
export interface PushSnapshot {
  readonly version: string;
}

/** Pure: every resource of one type for one proxy, over one snapshot. */
export type ResourceGenerator<S extends PushSnapshot> = (node: ProxyNode, typeUrl: XdsTypeUrl, snapshot: S) => XdsResource[];

/**
 * Which proxies share one generated result of a type: proxies with the same key get the same
 * resources from `generate` over the same snapshot (which the key may read, e.g. to tell whether
 * some configuration makes the output depend on more of the proxy). `undefined`: this proxy shares
 * with nobody.
 */
export type GenerationKey<S extends PushSnapshot = PushSnapshot> = (node: ProxyNode, typeUrl: XdsTypeUrl, snapshot: S) => string | undefined;

/**
 * One push, as the model hands it to `AdsServer.push`. Every response a stream sends for it is
 * generated from `snapshot`, whatever arrives meanwhile.
 */
export interface PushRequest<S extends PushSnapshot> {
  snapshot: S;
  /**
   * `full`: any type may have changed; each stream regenerates CDS, EDS, LDS, RDS in that order.
   * `endpoints`: only ClusterLoadAssignments changed (services and config did not), so streams
   * regenerate EDS alone, except the proxies `fullFor` names.
   */
  scope: 'full' | 'endpoints';
  /** With scope `endpoints`: proxies whose other types changed too (their own workload moved). */
  fullFor?: (node: ProxyNode) => boolean;
  /** Short cause (`config`, `registry:file`, ...), for logs and /debug/adsz. */
  reason: string;
  /** When the change that caused this push happened (epoch ms); convergence is measured from it. */
  changedAt: number;
}

/**
 * Observations the push server reports; the composition root turns them into Prometheus metrics
 * (`pilot_xds_pushes`, `pilot_xds_push_time`, `pilot_proxy_convergence_time`). Called synchronously
 * on the push path: keep them cheap, never throw.
 */
export interface AdsMetrics {
  /** One response of `typeUrl` sent to one stream because of a push (not a request's answer). */
  pushed(typeUrl: XdsTypeUrl): void;
  /** Seconds one stream took to generate and write one push (including waiting for flow control). */
  pushTime(seconds: number): void;
  /** Seconds from a change to the proxy's answer (ACK or NACK) to the last response its push sent. */
  converged(seconds: number, node: ProxyNode): void;
}

import type { Outcome, PickedHost } from '../dataplane/cluster/index.ts';
import type { Attempt, ForwardRequest, RouterUpstream, UpstreamPick } from '../dataplane/http/router.ts';
import type { AttemptOutcome } from '../dataplane/http/router-retry.ts';
import type { ClusterConfig, EndpointConfig, SocketAddr, UriSanMatcher } from '../xds/config-types.ts';
import { h1ToH1RequestHeaders, h1ToH2RequestHeaders } from './headers.ts';
import type { ListenerContext } from './listener-context.ts';
import { CLUSTER_STATS } from './telemetry.ts';
import { PEER_METADATA_HEADER } from './peer-metadata.ts';
import { fail } from '../common/result.ts';
import { UpstreamError } from './errors.ts';
import { originationOptions } from './origination-tls.ts';
import type { Http1Upstream } from './upstream-http1.ts';
import type { H2SessionPool } from './upstream-h2-pool.ts';
import type { UpstreamResponse } from './upstream-interface.ts';

/** An endpoint picked for one attempt of the outbound router, with the cluster's lease on it. */
export interface OutboundTarget {
  cluster: ClusterConfig;
  endpoint: EndpointConfig;
  /** mTLS over HTTP/2 to a mesh endpoint; else plaintext (h2c to a mesh endpoint, HTTP/1.1 otherwise) or originated TLS. */
  mtls: boolean;
  lease: PickedHost;
}

const TIMEOUT: Outcome = Object.freeze({ kind: 'timeout' });
const CONNECT_FAILURE: Outcome = Object.freeze({ kind: 'connect-failure' });
const RESET: Outcome = Object.freeze({ kind: 'reset' });

/** Envoy's default `common_http_protocol_options.idle_timeout` of upstream connections (1 h). */
export const DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS = 3_600_000;
const DEFAULT_CONNECTION_OPTIONS = Object.freeze({ idleTimeoutMs: DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS });

/**
 * The cluster's upstream connection limits: `idle_timeout` (Envoy's 1 h when the cluster sets
 * none, so idle upstream sessions are always closed at last) and `max_requests_per_connection`.
 */
function connectionOptions(c: { maxRequestsPerConnection?: number; idleTimeoutMs?: number }): {
  maxRequestsPerConnection?: number;
  idleTimeoutMs?: number;
} {
  if (c.maxRequestsPerConnection === undefined && c.idleTimeoutMs === undefined) return DEFAULT_CONNECTION_OPTIONS;
  return {
    ...(c.maxRequestsPerConnection !== undefined ? { maxRequestsPerConnection: c.maxRequestsPerConnection } : {}),
    idleTimeoutMs: c.idleTimeoutMs ?? DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS,
  };
}

/** The SPIFFE IDs a cluster's mesh servers may carry, and the stat counting refusals (`cluster.<name>.ssl.fail_verify_san`). */
export function serverIdentity(ctx: ListenerContext, cluster: ClusterConfig): { serverSans?: readonly UriSanMatcher[]; onSanMismatch?: () => void } {
  const sans = cluster.tls?.serverSans;
  if (sans === undefined || sans.length === 0) return {};
  return { serverSans: sans, onSanMismatch: () => ctx.telemetry.countClusterStat(cluster.name, CLUSTER_STATS.sslFailVerifySan) };
}

function sameEndpoint(a: EndpointConfig, b: EndpointConfig): boolean {
  return a.address.host === b.address.host && a.address.port === b.address.port && a.sni === b.sni;
}

function outcomeOf(o: AttemptOutcome): Outcome {
  switch (o.kind) {
    case 'response':
      return { kind: 'response', status: o.status };
    case 'connect-failure':
      return CONNECT_FAILURE;
    case 'reset':
      return RESET;
    case 'per-try-timeout':
      return TIMEOUT;
  }
}

/**
 * An ORIGINAL_DST cluster (PassthroughCluster) has one host per request: the original destination
 * of the app's connection, dialled plaintext HTTP/1.1 (its cluster has no TLS or protocol options:
 * the validator refuses them). Without one (the app called 15001 itself) there is no host: 503 UH.
 */
function originalDstPick(cluster: ClusterConfig, dst: SocketAddr | undefined): UpstreamPick<OutboundTarget> {
  if (dst === undefined) return { ok: false, reply: { status: 503, flag: 'UH', body: `cluster "${cluster.name}" is ORIGINAL_DST but the connection has no original destination` } };
  const endpoint: EndpointConfig = { address: { host: dst.host, port: dst.port }, weight: 1, healthy: true, tlsMode: 'disabled', priority: 0 };
  // Nothing to lease: no load balancer, circuit breaker or outlier detection acts on this host.
  const lease: PickedHost = { ok: true, endpoint, release: () => undefined, report: () => undefined };
  return { ok: true, target: { cluster, endpoint, mtls: false, lease }, release: () => undefined };
}

/**
 * The outbound listener's side of the router seam: endpoints come from the cluster layer (load
 * balancer, outlier detection, circuit breakers; a retry that avoids previous hosts re-picks up to
 * `maxPicks` times), attempts go out over mesh mTLS (HTTP/2, to the endpoint's inbound port),
 * plaintext HTTP/2 to a mesh endpoint's inbound port when the cluster has no TLS (DestinationRule
 * tls DISABLE), TLS the sidecar originates (SIMPLE / MUTUAL: h2 with ALPN h2 when the cluster has
 * `http2_protocol_options`, else HTTP/1.1), h2c to a plaintext endpoint of a cluster with
 * `http2_protocol_options`, or plaintext HTTP/1.1,
 * and each attempt's outcome goes back to the cluster. A remote endpoint with an endpoint-qualified
 * SNI (`meshfed.sni`) is dialled at its gateway with that SNI, so the pool keeps one session per
 * remote endpoint and the gateway passes it to that endpoint only.
 */
export function outboundUpstream(
  ctx: ListenerContext,
  h2: H2SessionPool,
  h1: Http1Upstream,
  maxPicks: number,
  hashKey: bigint | undefined,
  originalDst?: SocketAddr,
): RouterUpstream<OutboundTarget, UpstreamResponse> {
  return {
    random: ctx.random,
    pick(clusterName, tried, retry): UpstreamPick<OutboundTarget> {
      const config = ctx.clusters.get(clusterName)?.config;
      if (config?.type === 'ORIGINAL_DST') return originalDstPick(config, originalDst);
      const excluded = retry?.excludePrioritiesOf ?? [];
      const pickCtx = {
        hashKey,
        retry: retry !== undefined,
        ...(excluded.length > 0 ? { excludedPriorities: new Set(excluded.map((t) => t.endpoint.priority)) } : {}),
      };
      let picked = ctx.clusters.pick(clusterName, pickCtx);
      for (let i = 1; picked.ok && tried.length > 0 && i < maxPicks; i++) {
        const ep = picked.endpoint;
        if (!tried.some((t) => sameEndpoint(t.endpoint, ep))) break;
        picked.release();
        picked = ctx.clusters.pick(clusterName, pickCtx);
      }
      if (!picked.ok) return { ok: false, reply: { status: picked.status, flag: picked.flag, body: picked.message } };
      const cluster = ctx.clusters.get(clusterName)?.config;
      if (!cluster) {
        picked.release();
        return { ok: false, reply: { status: 503, flag: 'NC', body: `cluster "${clusterName}" not found` } };
      }
      const lease = picked;
      const mtls = cluster.tls !== undefined && cluster.tls.origination === undefined && lease.endpoint.tlsMode === 'istio';
      return { ok: true, target: { cluster, endpoint: lease.endpoint, mtls, lease }, release: () => lease.release() };
    },
    report(target, outcome) {
      target.lease.report(outcomeOf(outcome));
    },
    send(target, req: ForwardRequest): Attempt<UpstreamResponse> {
      const { cluster, endpoint } = target;
      const head = { method: req.method, path: req.path, headers: req.headers };
      let call: ReturnType<H2SessionPool['request']>;
      // Plaintext to a mesh workload (DestinationRule tls DISABLE, or the endpoint's PeerAuthentication DISABLE:
      // `tlsMode: disabled` with an inbound port): h2c to its sidecar's inbound port.
      const plaintextMesh = !target.mtls && cluster.tls?.origination === undefined && endpoint.inboundPort !== undefined;
      const origination = cluster.tls ? originationOptions(cluster.tls) : undefined;
      if ((target.mtls && cluster.tls) || plaintextMesh) {
        const headers = h1ToH2RequestHeaders(head);
        headers[PEER_METADATA_HEADER] = ctx.peerMetadata;
        const port = endpoint.inboundPort ?? endpoint.address.port;
        call = h2.request(
          plaintextMesh
            ? { host: endpoint.address.host, port, sni: '', alpn: [], plaintext: true }
            : {
                host: endpoint.address.host,
                port,
                sni: endpoint.sni ?? cluster.tls?.sni ?? '',
                alpn: cluster.tls?.alpn ?? [],
                ...serverIdentity(ctx, cluster),
              },
          { method: req.method, path: req.path, headers, body: req.body, connectTimeoutMs: cluster.connectTimeoutMs, ...connectionOptions(cluster) },
        );
      } else if (cluster.upstreamHttp2 && !origination) {
        // A plaintext endpoint of an HTTP/2 cluster (http2_protocol_options): prior-knowledge h2c.
        call = h2.request(
          { host: endpoint.address.host, port: endpoint.address.port, sni: '', alpn: [], plaintext: true },
          { method: req.method, path: req.path, headers: h1ToH2RequestHeaders(head), body: req.body, connectTimeoutMs: cluster.connectTimeoutMs, ...connectionOptions(cluster) },
        );
      } else if (cluster.upstreamHttp2 && origination?.ok) {
        // HTTP/2 over TLS the sidecar originates (SIMPLE / MUTUAL, ALPN h2).
        call = h2.request(
          { host: endpoint.address.host, port: endpoint.address.port, sni: '', alpn: ['h2'], origination: origination.value },
          { method: req.method, path: req.path, headers: h1ToH2RequestHeaders(head), body: req.body, connectTimeoutMs: cluster.connectTimeoutMs, ...connectionOptions(cluster) },
        );
      } else if (origination && !origination.ok) {
        call = { response: Promise.resolve(fail(new UpstreamError('UF', origination.errors))), abort: () => {} };
      } else {
        call = h1.request(
          endpoint.address,
          {
            method: req.method,
            path: req.path,
            headers: h1ToH1RequestHeaders(head),
            body: req.body,
            connectTimeoutMs: cluster.connectTimeoutMs,
            ...connectionOptions(cluster),
          },
          origination ? { key: cluster.name, options: origination.value } : undefined,
        );
      }
      return {
        abort: call.abort,
        response: call.response.then((r) =>
          r.ok
            ? { ok: true as const, response: r.value }
            : { ok: false as const, flag: r.errors.flag === 'UF' ? ('UF' as const) : ('UR' as const), message: r.errors.message, refusedStream: r.errors.refusedStream },
        ),
      };
    },
  };
}

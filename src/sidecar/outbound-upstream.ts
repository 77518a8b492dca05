import type { Attempt, ForwardRequest, RouterUpstream, UpstreamPick } from '../dataplane/http/router.ts';
import type { ClusterConfig, EndpointConfig } from '../xds/config-types.ts';
import { h1ToH1RequestHeaders, h1ToH2RequestHeaders } from './headers.ts';
import type { ListenerContext } from './listener-context.ts';
import { pickUpstream } from './load-balancer.ts';
import { PEER_METADATA_HEADER } from './peer-metadata.ts';
import type { Http1Upstream } from './upstream-http1.ts';
import type { H2SessionPool } from './upstream-h2-pool.ts';
import type { UpstreamResponse } from './upstream-interface.ts';

/** An endpoint picked for one attempt of the outbound router. */
export interface OutboundTarget {
  cluster: ClusterConfig;
  endpoint: EndpointConfig;
  /** mTLS over HTTP/2 to a mesh endpoint, or plaintext HTTP/1.1. */
  mtls: boolean;
}

function sameEndpoint(a: EndpointConfig, b: EndpointConfig): boolean {
  return a.address.host === b.address.host && a.address.port === b.address.port;
}

/**
 * The outbound listener's side of the router seam: endpoints come from the cluster's load
 * balancer (a retry that avoids previous hosts re-picks up to `maxPicks` times), attempts go out
 * over mesh mTLS (HTTP/2, to the endpoint's inbound port) or plaintext HTTP/1.1.
 */
export function outboundUpstream(
  ctx: ListenerContext,
  h2: H2SessionPool,
  h1: Http1Upstream,
  maxPicks: () => number,
): RouterUpstream<OutboundTarget, UpstreamResponse> {
  return {
    random: ctx.random,
    pick(clusterName, tried): UpstreamPick<OutboundTarget> {
      const cfg = ctx.config();
      let picked = pickUpstream(ctx.picker, cfg, clusterName);
      for (let i = 1; picked.ok && tried.length > 0 && i < maxPicks(); i++) {
        const ep = picked.endpoint;
        if (!tried.some((t) => sameEndpoint(t.endpoint, ep))) break;
        picked = pickUpstream(ctx.picker, cfg, clusterName);
      }
      if (!picked.ok) return { ok: false, reply: { status: picked.status, flag: picked.flag, body: picked.message } };
      const mtls = picked.cluster.tls !== undefined && picked.endpoint.tlsMode === 'istio';
      return { ok: true, target: { cluster: picked.cluster, endpoint: picked.endpoint, mtls } };
    },
    send(target, req: ForwardRequest): Attempt<UpstreamResponse> {
      const { cluster, endpoint } = target;
      const head = { method: req.method, path: req.path, headers: req.headers };
      let call: ReturnType<H2SessionPool['request']>;
      if (target.mtls && cluster.tls) {
        const headers = h1ToH2RequestHeaders(head);
        headers[PEER_METADATA_HEADER] = ctx.peerMetadata;
        call = h2.request(
          { host: endpoint.address.host, port: endpoint.inboundPort ?? endpoint.address.port, sni: cluster.tls.sni, alpn: cluster.tls.alpn },
          { method: req.method, path: req.path, headers, body: req.body, connectTimeoutMs: cluster.connectTimeoutMs },
        );
      } else {
        call = h1.request(endpoint.address, {
          method: req.method,
          path: req.path,
          headers: h1ToH1RequestHeaders(head),
          body: req.body,
          connectTimeoutMs: cluster.connectTimeoutMs,
        });
      }
      return {
        abort: call.abort,
        response: call.response.then((r) =>
          r.ok ? { ok: true as const, response: r.value } : { ok: false as const, flag: r.errors.flag === 'UF' ? ('UF' as const) : ('UR' as const), message: r.errors.message },
        ),
      };
    },
  };
}

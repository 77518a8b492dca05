import { isIP } from 'node:net';
import { sniFor } from '../../xds/naming.ts';
import type { CommonTlsContext, SubjectAltNameMatcher, TransportSocket, UpstreamTlsContext } from '../../xds/resources.ts';
import { TYPED_CONFIG } from '../../xds/type-urls.ts';
import type { ClientTlsSettings } from '../config/config-types.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { hasMeshEndpoints } from '../model/snapshot-queries.ts';
import { isHttpProtocol } from '../../common/service-protocol.ts';
import { MESH_TCP_ALPN, meshTlsContext, type OutboundClusterKey, portProtocol } from './generator-common.ts';
import { portSpeaksHttp2 } from './generator-upstream-protocol.ts';

/**
 * The upstream `transport_socket` of an outbound cluster, from its merged DestinationRule `tls`:
 * - none (auto mTLS): mesh mTLS when the service has mesh endpoints, else plaintext;
 * - ISTIO_MUTUAL: mesh mTLS (Citadel's `default` / `ROOTCA` over SDS, the cross-cluster SNI);
 *   when the SPIFFE IDs of the service's endpoints are known (serviceSpiffeIds), Istio's
 *   `combined_validation_context` carries them as exact URI SAN matchers, so the client refuses
 *   a server running as any other identity;
 * - DISABLE: none (plaintext; toward mesh workloads the destination sidecar accepts it as
 *   Istio's PERMISSIVE mode does);
 * - SIMPLE / MUTUAL: TLS origination with the files the rule names. Without `caCertificates` the
 *   system trust store (`SYSTEM_CA_FILE`) verifies the server, unless `insecureSkipVerify`. The SNI
 *   is `sni`, else the service host (Envoy's auto_sni would send the request's Host, which a
 *   ServiceEntry host is). The server's certificate must carry one of `subjectAltNames`, else the
 *   SNI (Istio's auto SAN validation), as a DNS or URI SAN. Toward an HTTP2 or GRPC port the
 *   context offers ALPN `h2` only (Istio's ALPNH2Only), to go with the cluster's
 *   `http2_protocol_options` (generator-upstream-protocol.ts); other ports offer no ALPN (HTTP/1.1).
 */

/** Where Istio points `caCertificates` by default (Debian's and Istio's proxy images' bundle). */
export const SYSTEM_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';

function sanMatcher(san: string): SubjectAltNameMatcher {
  return { san_type: san.includes('://') ? 'URI' : 'DNS', matcher: { exact: san } };
}

function originationContext(tls: ClientTlsSettings, key: OutboundClusterKey, http2: boolean): UpstreamTlsContext {
  const hostSni = key.hostname.includes('*') || isIP(key.hostname) !== 0 ? undefined : key.hostname;
  const sni = tls.sni ?? hostSni;
  const sans = tls.subjectAltNames.length > 0 ? [...tls.subjectAltNames] : sni !== undefined ? [sni] : [];
  const ctx: UpstreamTlsContext = { '@type': TYPED_CONFIG.upstreamTls, common_tls_context: {} };
  if (tls.mode === 'MUTUAL' && tls.clientCertificate !== undefined && tls.privateKey !== undefined) {
    ctx.common_tls_context.tls_certificates = [{ certificate_chain: { filename: tls.clientCertificate }, private_key: { filename: tls.privateKey } }];
  }
  if (!tls.insecureSkipVerify) {
    ctx.common_tls_context.validation_context = {
      trusted_ca: { filename: tls.caCertificates ?? SYSTEM_CA_FILE },
      ...(sans.length > 0 ? { match_typed_subject_alt_names: sans.map(sanMatcher) } : {}),
    };
  }
  if (http2) ctx.common_tls_context.alpn_protocols = ['h2'];
  if (sni !== undefined) ctx.sni = sni;
  return ctx;
}

/** Mesh mTLS material; with known server identities the roots move into a combined validation context. */
function meshClientContext(alpn: readonly string[], spiffeIds: readonly string[]): CommonTlsContext {
  const common = meshTlsContext(alpn);
  if (spiffeIds.length === 0 || common.validation_context_sds_secret_config === undefined) return common;
  const { validation_context_sds_secret_config: roots, ...rest } = common;
  return {
    ...rest,
    combined_validation_context: {
      default_validation_context: { match_typed_subject_alt_names: spiffeIds.map((id) => ({ san_type: 'URI', matcher: { exact: id } })) },
      validation_context_sds_secret_config: roots,
    },
  };
}

export function upstreamTransportSocket(
  snap: Snapshot,
  key: OutboundClusterKey,
  tls: ClientTlsSettings | undefined,
  spiffeIds: readonly string[] = [],
): TransportSocket<UpstreamTlsContext> | undefined {
  const mode = tls?.mode;
  if (mode === 'DISABLE') return undefined;
  if (tls && (mode === 'SIMPLE' || mode === 'MUTUAL')) {
    return { name: 'envoy.transport_sockets.tls', typed_config: originationContext(tls, key, portSpeaksHttp2(snap, key.hostname, key.port)) };
  }
  if (mode === undefined && !hasMeshEndpoints(snap, key.hostname)) return undefined;
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': TYPED_CONFIG.upstreamTls,
      common_tls_context: meshClientContext(isHttpProtocol(portProtocol(snap, key.hostname, key.port)) ? ['h2'] : MESH_TCP_ALPN, spiffeIds),
      sni: sniFor(key.port, key.subset, key.hostname),
    },
  };
}

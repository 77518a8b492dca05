/**
 * meshfed's sidecar proxy: outbound HTTP/1.1 listener routed by RDS, mesh mTLS over HTTP/2 to
 * other sidecars (or through east-west gateways), inbound mTLS listener forwarding to the app,
 * Istio-standard metrics, access logs to Mixer, admin and health endpoints.
 */
export type { AccessLogRecord, AccessLogStreamerOptions } from './access-log.ts';
export { AccessLogStreamer, httpAccessLogEntry, type TcpAccessLogRecord, tcpAccessLogEntry } from './access-log.ts';
export type { ConfigDump, Readiness } from './admin.ts';
export type { CertBundle, CertificateInfo, CertificateSource } from './cert-source.ts';
export { certificateInfo, StaticCertificateSource } from './cert-source.ts';
export type { DataPlane, DataPlaneOptions, SidecarPorts } from './data-plane.ts';
export { createDataPlane, emptyProxyConfig } from './data-plane.ts';
export { ListenerBindError, PeerIdentityError, SidecarError, SidecarOptionsError, UpstreamError } from './errors.ts';
export type { H1RequestHead } from './headers.ts';
export { h1ToH1RequestHeaders, h1ToH2RequestHeaders, responseHeadersForH1 } from './headers.ts';
export { sanitizeXfcc, selectInboundChain, XFCC_HEADER } from './inbound-listener.ts';
export type { ListenerBounds } from './listener-bounds.ts';
export { DEFAULT_LISTENER_BOUNDS, validateListenerBounds } from './listener-bounds.ts';
export type { LocalWorkload } from './listener-context.ts';
export { RESPONSE_FLAGS_HEADER } from './listener-context.ts';
export type { PeerIdentity } from './peer-identity.ts';
export { buildXfcc, peerIdentityOf } from './peer-identity.ts';
export type { PeerMetadata } from './peer-metadata.ts';
export { decodePeerMetadata, encodePeerMetadata, PEER_METADATA_HEADER } from './peer-metadata.ts';
export type { RequestLabels } from './telemetry.ts';
export { REQUEST_LABELS, SidecarTelemetry } from './telemetry.ts';
export type { SidecarHandle, SidecarOptions } from './sidecar.ts';
export { startSidecar } from './sidecar.ts';

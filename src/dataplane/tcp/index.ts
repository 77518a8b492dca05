/**
 * Layer-4 machinery shared by the sidecar and the east-west gateway: Envoy's
 * `envoy.filters.network.tcp_proxy` over the shared cluster layer (the sidecar's outbound tcp
 * listeners and inbound raw TCP), and the ClientHello parser behind SNI / ALPN matching (the
 * gateway's passthrough, the sidecar's inbound tls inspection).
 */
export { type ClientHelloResult, MAX_CLIENT_HELLO_LENGTH, parseClientHello } from './client-hello.ts';
export { type PeekOptions, type PeekResult, peekClientHello } from './client-hello-peek.ts';
export { selectByServerName } from './server-name-match.ts';
export {
  pickWeighted,
  proxyTcp,
  type TcpConnectionEnd,
  type TcpConnectionInfo,
  type TcpConnectionObserver,
  type TcpConnector,
  type TcpProxyDeps,
  type TcpResponseFlags,
  type TcpRoute,
  type UpstreamConnection,
} from './tcp-proxy.ts';

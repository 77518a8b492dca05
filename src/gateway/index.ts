/** East-west gateway: SNI passthrough of mesh mTLS to local endpoints of exported services. */
export { type ClientHelloResult, parseClientHello } from '../dataplane/tcp/client-hello.ts';
export { createGatewayDataPlane, type GatewayDataPlane, type GatewayDataPlaneOptions } from './data-plane.ts';
export { GatewayError, GatewayListenError, GatewayOptionsError } from './errors.ts';
export { type GatewayHandle, gatewayNode, type StartGatewayOptions, startGateway } from './gateway.ts';

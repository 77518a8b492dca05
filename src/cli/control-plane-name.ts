/**
 * The TLS name sidecars and gateways verify on the control plane's 15012
 * (`grpc.ssl_target_name_override`), and that Pilot's serving certificate carries. Its own module
 * so that a proxy's command can name it without loading the control plane.
 */
export const CONTROL_PLANE_SERVER_NAME = 'istiod.istio-system.svc';

/** Istio's standard port numbers, kept so that users' habits carry over. */
export const PORTS = {
  /** Sidecar: the app sends plain HTTP/1.1 here; routed by Host through RDS. */
  sidecarOutbound: 15001,
  /** Sidecar: mTLS (HTTP/2) from other sidecars and from east-west gateways. */
  sidecarInbound: 15006,
  /** Sidecar admin: /config_dump, /ready. */
  sidecarAdmin: 15000,
  /** Sidecar health: /healthz/ready. */
  sidecarHealth: 15021,
  /** Sidecar Prometheus metrics at /stats/prometheus. */
  sidecarMetrics: 15090,
  /** Control plane: xDS over plain gRPC (local only). */
  xdsPlain: 15010,
  /** Control plane: xDS, CA and access-log sink over gRPC with TLS. */
  xdsTls: 15012,
  /** Control plane monitoring: /metrics, /debug. */
  monitoring: 15014,
  /** Control plane: HTTPS admission webhooks (validation, sidecar injection). */
  webhook: 15017,
  /** Citadel run apart from Pilot: CSR signing over TLS gRPC (istio-citadel's old port). */
  citadel: 8060,
  /** Mixer run apart from Pilot: access-log sink over gRPC, TLS with a CA (istio-telemetry's port). */
  mixerGrpc: 9091,
  /** Mixer run apart from Pilot: mesh-wide metrics at /metrics (istio-telemetry's port). */
  mixerMetrics: 42422,
  /** Federation controller run apart from Pilot: /ready and /debug pages (meshfed's own). */
  federationMonitoring: 15016,
  /** East-west gateway: TLS passthrough routed by SNI. */
  eastWestGateway: 15443,
} as const;

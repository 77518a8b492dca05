import { OVERLOAD, type OverloadState } from '../dataplane/overload/index.ts';
import { CertificateMetrics } from '../common/cert-metrics.ts';
import { Counter, Gauge, Histogram, Registry } from '../common/prom.ts';

/**
 * Istio's standard HTTP metrics, in a registry owned by one sidecar (never prom-client's global
 * one, so several sidecars can share a process in tests). Served on :15090 /stats/prometheus.
 */

export const REQUEST_LABELS = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_principal',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_service',
  'destination_service_name',
  'destination_cluster',
  'request_protocol',
  'response_code',
  'response_flags',
  'connection_security_policy',
  'grpc_response_status',
] as const;

export type RequestLabelName = (typeof REQUEST_LABELS)[number];
/** One request's labels; every label is set (`unknown` when not known, `-` for no flags). */
export type RequestLabels = Record<RequestLabelName, string>;

/** Istio's TCP metric labels: the request labels without `response_code` and `grpc_response_status` (`request_protocol` is `tcp`). */
export const TCP_LABELS = REQUEST_LABELS.filter((l) => l !== 'response_code' && l !== 'grpc_response_status');
export type TcpLabelName = Exclude<RequestLabelName, 'response_code' | 'grpc_response_status'>;
export type TcpLabels = Record<TcpLabelName, string>;

/** Istio's default duration buckets, in milliseconds. */
/** Envoy's upstream cluster stats (`cluster.<name>.<stat>`) the sidecar counts. */
export const CLUSTER_STATS = Object.freeze({
  /** A mesh server's certificate carried none of the cluster's SPIFFE IDs. */
  sslFailVerifySan: 'ssl.fail_verify_san',
});

const DURATION_BUCKETS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
const SIZE_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000];

/** A finished request, as the listeners report it. */
export interface RequestRecord {
  labels: RequestLabels;
  durationMs: number;
  requestBytes: number;
  responseBytes: number;
}

/** The metrics of one sidecar. */
export class SidecarTelemetry {
  readonly registry = new Registry();
  /** `istio_agent_cert_expiry_seconds` and renewal failures of the workload certificate. */
  readonly certificates = new CertificateMetrics(this.registry);
  readonly #requests: Counter<RequestLabelName>;
  readonly #duration: Histogram<RequestLabelName>;
  readonly #requestBytes: Histogram<RequestLabelName>;
  readonly #responseBytes: Histogram<RequestLabelName>;
  readonly #envoyStats = new Map<string, Counter>();
  readonly #clusterStats = new Map<string, Counter<'cluster_name'>>();
  readonly #tcpOpened: Counter<TcpLabelName>;
  readonly #tcpClosed: Counter<TcpLabelName>;
  readonly #tcpSent: Counter<TcpLabelName>;
  readonly #tcpReceived: Counter<TcpLabelName>;

  constructor() {
    const labelNames = [...REQUEST_LABELS];
    const registers = [this.registry];
    this.#requests = new Counter({ name: 'istio_requests_total', help: 'Requests handled by the proxy', labelNames, registers });
    this.#duration = new Histogram({
      name: 'istio_request_duration_milliseconds',
      help: 'Request duration in milliseconds',
      labelNames,
      buckets: DURATION_BUCKETS_MS,
      registers,
    });
    this.#requestBytes = new Histogram({
      name: 'istio_request_bytes',
      help: 'Request body size in bytes',
      labelNames,
      buckets: SIZE_BUCKETS,
      registers,
    });
    this.#responseBytes = new Histogram({
      name: 'istio_response_bytes',
      help: 'Response body size in bytes',
      labelNames,
      buckets: SIZE_BUCKETS,
      registers,
    });
    const tcpLabels = [...TCP_LABELS];
    this.#tcpOpened = new Counter({ name: 'istio_tcp_connections_opened_total', help: 'TCP connections opened', labelNames: tcpLabels, registers });
    this.#tcpClosed = new Counter({ name: 'istio_tcp_connections_closed_total', help: 'TCP connections closed', labelNames: tcpLabels, registers });
    this.#tcpSent = new Counter({ name: 'istio_tcp_sent_bytes_total', help: 'Bytes sent to the downstream during TCP connections', labelNames: tcpLabels, registers });
    this.#tcpReceived = new Counter({
      name: 'istio_tcp_received_bytes_total',
      help: 'Bytes received from the downstream during TCP connections',
      labelNames: tcpLabels,
      registers,
    });
  }

  /** A TCP connection opened (Istio counts it once the proxy has an upstream, or gives up). */
  tcpOpened(labels: TcpLabels): void {
    this.#tcpOpened.inc(labels);
  }

  /** A TCP connection closed after `receivedBytes` from the downstream and `sentBytes` to it. */
  tcpClosed(labels: TcpLabels, receivedBytes: number, sentBytes: number): void {
    this.#tcpClosed.inc(labels);
    // Counted at close (Istio reports periodically too); a zero still creates the series.
    this.#tcpReceived.inc(labels, receivedBytes);
    this.#tcpSent.inc(labels, sentBytes);
  }

  record(r: RequestRecord): void {
    this.#requests.inc(r.labels);
    this.#duration.observe(r.labels, r.durationMs);
    this.#requestBytes.observe(r.labels, r.requestBytes);
    this.#responseBytes.observe(r.labels, r.responseBytes);
  }

  /**
   * Counts an Envoy stat of an HTTP filter by its dotted name, exposed as Envoy's Prometheus
   * exporter names it: `<stat_prefix>.http_local_rate_limit.ok` → `envoy_<stat_prefix>_http_local_rate_limit_ok`.
   */
  countEnvoyStat(name: string): void {
    let c = this.#envoyStats.get(name);
    if (!c) {
      c = new Counter({ name: `envoy_${name.replace(/[^A-Za-z0-9_]/g, '_')}`, help: `Envoy stat ${name}`, registers: [this.registry] });
      this.#envoyStats.set(name, c);
    }
    c.inc();
  }

  /**
   * Counts an Envoy stat of an upstream cluster, `cluster.<name>.<stat>`, exposed as Envoy's
   * Prometheus exporter names it: the cluster name becomes the `cluster_name` label
   * (`cluster.outbound|80||a….ssl.fail_verify_san` → `envoy_cluster_ssl_fail_verify_san{cluster_name="outbound|80||a…"}`).
   */
  countClusterStat(cluster: string, stat: string): void {
    let c = this.#clusterStats.get(stat);
    if (!c) {
      c = new Counter({ name: `envoy_cluster_${stat.replace(/[^A-Za-z0-9_]/g, '_')}`, help: `Envoy stat cluster.<cluster_name>.${stat}`, labelNames: ['cluster_name'], registers: [this.registry] });
      this.#clusterStats.set(stat, c);
    }
    c.inc({ cluster_name: cluster });
  }

  /**
   * Exposes the xDS connection's health, read at scrape time: Envoy's
   * `envoy_control_plane_connected_state` (1 connected, 0 not) and
   * `meshfed_xds_seconds_since_last_config` (since the last config applied and ACKed; NaN
   * before the first). Called once, by the sidecar that owns the xDS client.
   */
  trackControlPlane(state: { connected(): boolean; lastConfigAt(): number | undefined }, now: () => number = Date.now): void {
    new Gauge({
      name: 'envoy_control_plane_connected_state',
      help: 'Envoy stat control_plane.connected_state: 1 while the xDS stream is up',
      registers: [this.registry],
      collect() {
        this.set(state.connected() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'meshfed_xds_seconds_since_last_config',
      help: 'Seconds since the last xDS config this proxy applied and ACKed',
      registers: [this.registry],
      collect() {
        const at = state.lastConfigAt();
        this.set(at === undefined ? Number.NaN : (now() - at) / 1000);
      },
    });
  }

  /**
   * Exposes the overload manager's state, read at scrape time, with Envoy's names:
   * `envoy_overload_envoy_overload_actions_stop_accepting_requests_active` (and
   * `…stop_accepting_connections_active`), 1 while the action is on, and
   * `envoy_overload_envoy_resource_monitors_fixed_heap_pressure` (percent of the heap maximum).
   */
  trackOverload(state: OverloadState): void {
    const gauge = (name: string, read: () => number): void => {
      new Gauge({
        name: `envoy_${name.replace(/[^A-Za-z0-9_]/g, '_')}`,
        help: `Envoy stat ${name}`,
        registers: [this.registry],
        collect() {
          this.set(read());
        },
      });
    };
    gauge(`overload.${OVERLOAD.stopAcceptingRequests}.active`, () => (state.shedRequests() ? 1 : 0));
    gauge(`overload.${OVERLOAD.stopAcceptingConnections}.active`, () => (state.refuseConnections() ? 1 : 0));
    gauge(`overload.${OVERLOAD.heapMonitor}.pressure`, () => Math.round(state.pressure() * 100));
  }

  /** Prometheus text exposition. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** `reviews.default.svc.cluster.local` → `reviews`; anything else is returned unchanged. */
export function serviceNameOf(host: string): string {
  const m = /^([^.]+)\.[^.]+\.svc\./.exec(host);
  return m?.[1] ?? host;
}

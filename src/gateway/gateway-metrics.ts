import { Counter, Registry } from '../common/prom.ts';

/**
 * Labels of the gateway's `istio_tcp_*` series. Istio's convention: a gateway reports as a client
 * proxy, so `reporter="source"`, with the gateway itself as `source_workload`. `destination_service`
 * is the host from the SNI; `destination_cluster` is the endpoint's `istio.cluster_id` (else the
 * gateway's cluster).
 */
export interface TcpLabels {
  destination_service: string;
  destination_cluster: string;
}

/**
 * Envoy's response flags as the gateway sets them: `-` (none), `UF` (upstream connection failure),
 * `UH` (no healthy upstream). As in Istio, `opened` and byte counts carry `-`; `closed` carries the
 * connection's final flags.
 */
export type ResponseFlags = '-' | 'UF' | 'UH' | 'UO';

/** Why a connection was refused before routing (`meshfed_gateway_refused_total{reason}`). */
/**
 * Why a connection was refused. `unknown_endpoint`: an endpoint-qualified SNI whose service SNI is
 * served here but whose id names no local endpoint of it (a stale or forged id).
 */
export type RefusalReason = 'invalid_hello' | 'no_sni' | 'unknown_sni' | 'unknown_endpoint' | 'hello_too_large' | 'hello_timeout' | 'client_closed';

const TCP_LABELS = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_cluster',
  'destination_service',
  'destination_cluster',
  'response_flags',
] as const;

/** One TCP connection's counters, bound to its labels once they are known. */
export interface ConnectionMetrics {
  received(bytes: number): void;
  sent(bytes: number): void;
  /** Idempotent; counts the close once, with the connection's final flags. */
  closed(flags: ResponseFlags): void;
}

/** The gateway's metrics in their own per-process Registry (scraped at :15090/stats/prometheus). */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly opened: Counter<(typeof TCP_LABELS)[number]>;
  private readonly closedTotal: Counter<(typeof TCP_LABELS)[number]>;
  private readonly sentBytes: Counter<(typeof TCP_LABELS)[number]>;
  private readonly receivedBytes: Counter<(typeof TCP_LABELS)[number]>;
  private readonly refused: Counter<'reason'>;
  private readonly idleTimeouts: Counter;
  private readonly cxOverflow: Counter;

  constructor(private readonly source: { cluster: string; workload: string; namespace: string }) {
    const registers = [this.registry];
    this.opened = new Counter({ name: 'istio_tcp_connections_opened_total', help: 'TCP connections opened', labelNames: TCP_LABELS, registers });
    this.closedTotal = new Counter({ name: 'istio_tcp_connections_closed_total', help: 'TCP connections closed', labelNames: TCP_LABELS, registers });
    this.sentBytes = new Counter({
      name: 'istio_tcp_sent_bytes_total',
      help: 'Bytes sent to the downstream (response direction)',
      labelNames: TCP_LABELS,
      registers,
    });
    this.receivedBytes = new Counter({
      name: 'istio_tcp_received_bytes_total',
      help: 'Bytes received from the downstream (request direction)',
      labelNames: TCP_LABELS,
      registers,
    });
    this.refused = new Counter({
      name: 'meshfed_gateway_refused_total',
      help: 'Connections refused before routing, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.idleTimeouts = new Counter({ name: 'envoy_tcp_eastwestgateway_idle_timeout', help: 'Envoy stat tcp.eastwestgateway.idle_timeout', registers });
    this.cxOverflow = new Counter({
      name: 'envoy_listener_eastwestgateway_downstream_cx_overflow',
      help: 'Envoy stat listener.eastwestgateway.downstream_cx_overflow',
      registers,
    });
  }

  /**
   * Counts a bound that closed or refused a connection, by its Envoy stat name:
   * `tcp.eastwestgateway.idle_timeout` (Envoy tcp_proxy), `listener.eastwestgateway.downstream_cx_overflow`.
   */
  bound(stat: 'idle_timeout' | 'downstream_cx_overflow'): void {
    (stat === 'idle_timeout' ? this.idleTimeouts : this.cxOverflow).inc();
  }

  refusal(reason: RefusalReason): void {
    this.refused.inc({ reason });
  }

  /** Counts an opened connection and returns its bound counters. */
  connection(labels: TcpLabels): ConnectionMetrics {
    const all = {
      reporter: 'source',
      source_workload: this.source.workload,
      source_workload_namespace: this.source.namespace,
      source_cluster: this.source.cluster,
      ...labels,
      response_flags: '-',
    };
    this.opened.inc(all);
    const sent = this.sentBytes.labels(all);
    const received = this.receivedBytes.labels(all);
    let isClosed = false;
    return {
      received: (n) => received.inc(n),
      sent: (n) => sent.inc(n),
      closed: (flags) => {
        if (isClosed) return;
        isClosed = true;
        this.closedTotal.inc({ ...all, response_flags: flags });
      },
    };
  }
}

import { Counter, Gauge, Histogram, type Registry } from '../common/prom.ts';
import type { MeshEntry } from './access-log-entry.ts';
import { LabelLimiter, type LabelLimits, labelLimits } from './label-limiter.ts';

const REQUEST_LABELS = ['reporter', 'source_cluster', 'destination_cluster', 'destination_service', 'response_code'] as const;
const TCP_LABELS = ['reporter', 'source_cluster', 'destination_cluster', 'destination_service'] as const;

/** Istio's duration buckets (milliseconds). */
/** Istio's duration buckets (ms), in seconds: meshfed's own metrics use the Prometheus base unit. */
const DURATION_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000].map((ms) => ms / 1000);

/**
 * Mixer's mesh-wide metrics, registered once into the given registry (a second MeshMetrics on the
 * same registry throws: one Mixer per registry). Contract (DESIGN: Mixer exposes mesh-wide request
 * counts): `meshfed_mesh_requests_total` by source and destination cluster.
 */
export class MeshMetrics {
  private readonly requests: Counter<(typeof REQUEST_LABELS)[number]>;
  private readonly duration: Histogram<(typeof REQUEST_LABELS)[number]>;
  private readonly tcpConnections: Counter<(typeof TCP_LABELS)[number]>;
  private readonly entries: Counter<'result'>;
  private readonly refused: Counter<'reason'>;
  private readonly streams: Gauge;
  private readonly overflow: Counter<'metric'>;
  private readonly requestLimiter: LabelLimiter<(typeof REQUEST_LABELS)[number]>;
  private readonly tcpLimiter: LabelLimiter<(typeof TCP_LABELS)[number]>;

  /** `limits` bounds label cardinality (see LabelLimiter); defaults DEFAULT_LABEL_LIMITS. */
  constructor(registry: Registry, limits?: Partial<LabelLimits>) {
    const registers = [registry];
    const bounds = labelLimits(limits);
    this.requestLimiter = new LabelLimiter<(typeof REQUEST_LABELS)[number]>(bounds, ['reporter']);
    this.tcpLimiter = new LabelLimiter<(typeof TCP_LABELS)[number]>(bounds, ['reporter']);
    this.overflow = new Counter({
      name: 'meshfed_mixer_label_overflow_total',
      help: 'Observations whose new label set exceeded the per-metric cap and were folded into overflow',
      labelNames: ['metric'],
      registers,
    });
    this.requests = new Counter({
      name: 'meshfed_mesh_requests_total',
      help: 'Requests reported by every proxy of the mesh through access-log streams',
      labelNames: REQUEST_LABELS,
      registers,
    });
    this.duration = new Histogram({
      name: 'meshfed_mesh_request_duration_seconds',
      help: 'Request duration (time to last downstream byte sent) reported through access-log streams',
      labelNames: REQUEST_LABELS,
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.tcpConnections = new Counter({
      name: 'meshfed_mesh_tcp_connections_total',
      help: 'TCP connections reported through access-log streams',
      labelNames: TCP_LABELS,
      registers,
    });
    this.entries = new Counter({
      name: 'meshfed_mixer_access_log_entries_total',
      help: 'Access-log entries received, by whether they were accepted, malformed, or dropped for claiming another identity than the reporter\'s certificate',
      labelNames: ['result'],
      registers,
    });
    this.streams = new Gauge({ name: 'meshfed_mixer_streams_active', help: 'Open access-log streams', registers });
    // Expose both results at 0 from the start, so that rate() queries work before the first entry.
    this.entries.inc({ result: 'accepted' }, 0);
    this.entries.inc({ result: 'malformed' }, 0);
    this.entries.inc({ result: 'identity_mismatch' }, 0);
    this.refused = new Counter({
      name: 'meshfed_mixer_streams_refused_total',
      help: 'Access-log streams refused: no verified mesh certificate (unauthenticated), or a node that is not the certificate\'s (identity_mismatch)',
      labelNames: ['reason'],
      registers,
    });
    this.refused.inc({ reason: 'unauthenticated' }, 0);
    this.refused.inc({ reason: 'identity_mismatch' }, 0);
  }

  /** An entry dropped because the workload it reports for is not the reporter's own identity. */
  identityMismatch(): void {
    this.entries.inc({ result: 'identity_mismatch' });
  }

  streamRefused(reason: 'unauthenticated' | 'identity_mismatch'): void {
    this.refused.inc({ reason });
  }

  /** Counts a validated entry (HTTP entries carry a response code; TCP entries do not). */
  record(e: MeshEntry): void {
    this.entries.inc({ result: 'accepted' });
    const base = {
      reporter: e.reporter,
      source_cluster: e.sourceCluster,
      destination_cluster: e.destinationCluster,
      destination_service: e.destinationService,
    };
    if (e.responseCode === undefined) {
      const tcp = this.tcpLimiter.bound(base);
      if (tcp.folded) this.overflow.inc({ metric: 'meshfed_mesh_tcp_connections_total' });
      this.tcpConnections.inc(tcp.labels);
      return;
    }
    const bounded = this.requestLimiter.bound({ ...base, response_code: String(e.responseCode) });
    if (bounded.folded) this.overflow.inc({ metric: 'meshfed_mesh_requests_total' });
    const labels = bounded.labels;
    this.requests.inc(labels);
    if (e.durationMs !== undefined) this.duration.observe(labels, e.durationMs / 1000);
  }

  malformed(count = 1): void {
    this.entries.inc({ result: 'malformed' }, count);
  }

  streamOpened(): void {
    this.streams.inc();
  }

  streamClosed(): void {
    this.streams.dec();
  }
}

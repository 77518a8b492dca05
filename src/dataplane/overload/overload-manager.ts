import v8 from 'node:v8';
import { MeshfedError } from '../../common/errors.ts';

/**
 * An overload manager in the shape of Envoy's: one resource monitor, `envoy.resource_monitors.fixed_heap`
 * (V8 heap in use against a maximum), read every `refreshIntervalMs`, and two actions with
 * thresholds on its pressure (used / max, in [0, 1]):
 * - `envoy.overload_actions.stop_accepting_requests` at `stopAcceptingRequestsRatio`: new
 *   requests get a local 503 with response flag `OL` (and `x-envoy-overloaded: true`);
 * - `envoy.overload_actions.stop_accepting_connections` at `stopAcceptingConnectionsRatio`: new
 *   connections are closed at accept.
 * Requests and connections already in flight are untouched, so that memory can drain. Each
 * action's state is exposed as Envoy's gauge `overload.<action>.active` and the pressure as
 * `overload.envoy.resource_monitors.fixed_heap.pressure` (percent).
 */
export interface OverloadOptions {
  /** The heap maximum; default: V8's `heap_size_limit` (what `--max-old-space-size` sets). */
  maxHeapSizeBytes: number;
  /** Pressure at which new requests are shed; Envoy's examples use 0.95. */
  stopAcceptingRequestsRatio: number;
  /** Pressure at which new connections are refused; at or above the request threshold. */
  stopAcceptingConnectionsRatio: number;
  /** How often the heap is read (Envoy's `refresh_interval`, default 1 s; 250 ms here, V8 grows fast). */
  refreshIntervalMs: number;
}

/** Invalid overload options (`invalid overload.stopAcceptingRequestsRatio`). */
export class OverloadOptionsError extends MeshfedError {
  constructor(message: string) {
    super('OVERLOAD_OPTIONS_INVALID', message);
  }
}

/** Envoy's names of the monitor and actions. */
export const OVERLOAD = {
  heapMonitor: 'envoy.resource_monitors.fixed_heap',
  stopAcceptingRequests: 'envoy.overload_actions.stop_accepting_requests',
  stopAcceptingConnections: 'envoy.overload_actions.stop_accepting_connections',
} as const;

export const DEFAULT_OVERLOAD_RATIOS = Object.freeze({ stopAcceptingRequestsRatio: 0.95, stopAcceptingConnectionsRatio: 0.98, refreshIntervalMs: 250 });

/** Fills in defaults and validates once (ratios in (0, 1], connections ≥ requests, positive integers). Unknown fields are refused. */
export function validateOverloadOptions(input: Partial<OverloadOptions> | undefined, heapSizeLimit = v8.getHeapStatistics().heap_size_limit): Readonly<OverloadOptions> {
  const o: OverloadOptions = { maxHeapSizeBytes: heapSizeLimit, ...DEFAULT_OVERLOAD_RATIOS };
  for (const [key, value] of Object.entries(input ?? {})) {
    if (!(key in o)) throw new OverloadOptionsError(`overload.${key}: is not supported`);
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new OverloadOptionsError(`invalid overload.${key}`);
    o[key as keyof OverloadOptions] = value;
  }
  for (const key of ['stopAcceptingRequestsRatio', 'stopAcceptingConnectionsRatio'] as const) {
    if (!(o[key] > 0 && o[key] <= 1)) throw new OverloadOptionsError(`invalid overload.${key}: must be in (0, 1]`);
  }
  if (o.stopAcceptingConnectionsRatio < o.stopAcceptingRequestsRatio) throw new OverloadOptionsError('invalid overload.stopAcceptingConnectionsRatio: below overload.stopAcceptingRequestsRatio');
  for (const key of ['maxHeapSizeBytes', 'refreshIntervalMs'] as const) {
    if (!Number.isSafeInteger(o[key]) || o[key] < 1) throw new OverloadOptionsError(`invalid overload.${key}`);
  }
  return Object.freeze(o);
}

/** What listeners ask of the overload manager, per request and per connection. */
export interface OverloadState {
  /** True while `stop_accepting_requests` is active. */
  shedRequests(): boolean;
  /** True while `stop_accepting_connections` is active. */
  refuseConnections(): boolean;
  /** The last pressure reading, in [0, 1+). */
  pressure(): number;
}

/** The running monitor; `stop()` clears its timer (idempotent). */
export interface OverloadManager extends OverloadState {
  /** Reads the heap now (also done every refresh interval). */
  refresh(): void;
  stop(): void;
}

/**
 * Starts the monitor. `heapUsed` reads the heap in use (default V8's `used_heap_size`); it is a
 * seam for in-process tests only. The timer is unref'd: it never keeps a process alive.
 */
export function startOverloadManager(options: Readonly<OverloadOptions>, heapUsed: () => number = () => v8.getHeapStatistics().used_heap_size): OverloadManager {
  let pressure = 0;
  const refresh = (): void => {
    pressure = heapUsed() / options.maxHeapSizeBytes;
  };
  refresh();
  const timer = setInterval(refresh, options.refreshIntervalMs);
  timer.unref();
  return {
    refresh,
    pressure: () => pressure,
    shedRequests: () => pressure >= options.stopAcceptingRequestsRatio,
    refuseConnections: () => pressure >= options.stopAcceptingConnectionsRatio,
    stop: () => clearInterval(timer),
  };
}

/**
 * Envoy's priority and locality arithmetic, as pure functions (the UpstreamCluster applies them
 * to its hosts). All percentages are integers, computed as Envoy computes them.
 *
 * - A priority's health is `min(100, overprovisioning × healthy / total)` with the factor 140
 *   (1.4): a level that is at least 72% healthy takes all the load it can.
 * - Load goes to priorities in order, each taking its health (scaled so that the healthy levels
 *   together take 100% when their summed health is below 100); what a level cannot take spills
 *   to the next. Rounding leftovers go to the first level that took any.
 * - Panic: a level whose healthy share (healthy / total, without overprovisioning) is below
 *   `healthy_panic_threshold` balances across all its hosts, healthy or not. When every level is
 *   in panic, load is split by host counts. Threshold 0 disables panic; with no healthy host
 *   anywhere, P0 then takes everything (and finds no host: UH).
 */

export const OVERPROVISIONING_FACTOR = 140;
export const DEFAULT_HEALTHY_PANIC_THRESHOLD = 50;

/** Host counts of one priority level. */
export interface LevelHealth {
  total: number;
  healthy: number;
}

export interface PriorityLoad {
  /** Percent of requests per level; sums to 100 when any level has hosts. */
  load: number[];
  /** Per level: balance across all hosts instead of healthy ones. */
  panic: boolean[];
}

function levelHealth(l: LevelHealth, factor: number): number {
  return l.total > 0 ? Math.min(100, Math.floor((factor * l.healthy) / l.total)) : 0;
}

function inPanic(l: LevelHealth, threshold: number): boolean {
  const healthyPercent = l.total > 0 ? (100 * l.healthy) / l.total : 0;
  return healthyPercent < threshold;
}

export function computePriorityLoad(
  levels: readonly LevelHealth[],
  panicThresholdPercent = DEFAULT_HEALTHY_PANIC_THRESHOLD,
  factor = OVERPROVISIONING_FACTOR,
): PriorityLoad {
  const n = levels.length;
  const load = new Array<number>(n).fill(0);
  const panic = new Array<boolean>(n).fill(false);
  if (n === 0) return { load, panic };
  const health = levels.map((l) => levelHealth(l, factor));
  const totalAvailability = Math.min(100, health.reduce((a, b) => a + b, 0));
  load[0] = 100;
  if (totalAvailability > 0) {
    let remaining = 100;
    let first = -1;
    for (let i = 0; i < n; i++) {
      load[i] = Math.min(remaining, Math.floor((health[i]! * 100) / totalAvailability));
      remaining -= load[i]!;
      if (load[i]! > 0 && first === -1) first = i;
    }
    if (remaining > 0 && first !== -1) load[first] = load[first]! + remaining;
  }
  if (panicThresholdPercent === 0 && totalAvailability === 0) return { load, panic };
  for (let i = 0; i < n; i++) panic[i] = totalAvailability === 100 ? false : inPanic(levels[i]!, panicThresholdPercent);
  if (panic.every(Boolean)) {
    const hosts = levels.reduce((a, l) => a + l.total, 0);
    if (hosts === 0) return { load, panic };
    let remaining = 100;
    let first = -1;
    for (let i = 0; i < n; i++) {
      load[i] = Math.floor((100 * levels[i]!.total) / hosts);
      remaining -= load[i]!;
      if (levels[i]!.total > 0 && first === -1) first = i;
    }
    if (first !== -1) load[first] = load[first]! + remaining;
  }
  return { load, panic };
}

/** The level that a point in [0, 100) falls into, walking the cumulative load; -1 when all loads are 0. */
export function choosePriority(load: readonly number[], point: number): number {
  let acc = 0;
  for (let i = 0; i < load.length; i++) {
    acc += load[i]!;
    if (point < acc) return i;
  }
  return -1;
}

/**
 * A locality's effective weight inside a priority (locality-weighted LB): its
 * `load_balancing_weight` times its availability `min(1, 1.4 × healthy / total)`.
 */
export function localityEffectiveWeight(weight: number, l: LevelHealth, factor = OVERPROVISIONING_FACTOR): number {
  if (l.total === 0 || weight <= 0) return 0;
  return (weight * Math.min(100, (factor * l.healthy) / l.total)) / 100;
}

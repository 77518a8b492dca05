/** Bounds of Mixer's metric labels; validated by `labelLimits`. */
export interface LabelLimits {
  /** Distinct label sets one metric may hold; later new sets fold into `overflow` (default 10000). */
  maxSeriesPerMetric: number;
  /** Longest label value kept; longer ones are cut to this length (default 256). */
  maxValueLength: number;
}

export const DEFAULT_LABEL_LIMITS: Readonly<LabelLimits> = Object.freeze({ maxSeriesPerMetric: 10_000, maxValueLength: 256 });

/** Checks `input` once (constructor options); throws TypeError naming the bad field. */
export function labelLimits(input: Partial<LabelLimits> | undefined): Readonly<LabelLimits> {
  const l = { ...DEFAULT_LABEL_LIMITS, ...input };
  for (const k of ['maxSeriesPerMetric', 'maxValueLength'] as const) {
    if (!Number.isInteger(l[k]) || l[k] < 1) throw new TypeError(`invalid labelLimits.${k}: must be a positive integer`);
  }
  return Object.freeze(l);
}

/** The label value every bounded label takes once a metric is full (Istio/Prometheus practice). */
export const OVERFLOW = 'overflow';

/**
 * Keeps one metric's label sets bounded: values are cut to `maxValueLength`; a label set not seen
 * before, once `maxSeriesPerMetric` are held, has every label except `keep` replaced by
 * `overflow` (that folded set is itself one series). Pure bookkeeping, no I/O.
 */
export class LabelLimiter<L extends string> {
  readonly #seen = new Set<string>();

  constructor(
    private readonly limits: Readonly<LabelLimits>,
    private readonly keep: readonly L[],
  ) {}

  /** The labels to record, and whether they were folded into `overflow`. */
  bound(labels: Record<L, string>): { labels: Record<L, string>; folded: boolean } {
    const cut = {} as Record<L, string>;
    for (const k of Object.keys(labels) as L[]) cut[k] = labels[k].slice(0, this.limits.maxValueLength);
    const key = JSON.stringify(cut);
    if (this.#seen.has(key)) return { labels: cut, folded: false };
    if (this.#seen.size < this.limits.maxSeriesPerMetric) {
      this.#seen.add(key);
      return { labels: cut, folded: false };
    }
    const folded = {} as Record<L, string>;
    for (const k of Object.keys(cut) as L[]) folded[k] = this.keep.includes(k) ? cut[k] : OVERFLOW;
    return { labels: folded, folded: true };
  }
}

/**
 * Pilot's debounce, as a pure function of times (epoch ms). A quiet period starts with the first
 * change after a push and ends `debounceMs` after the latest event of any source, counted from
 * when that source saw it: a registry that waited for its own source to settle (the file
 * registry's folder watch) reports its last file event, so Pilot does not wait a second quiet
 * period on top of the watch's; other sources' events count as of their arrival. However often
 * events keep coming, the push happens at most `debounceMaxMs` after the period's first change
 * (Istio's PILOT_DEBOUNCE_MAX). Called by createPilot (pilot.ts) on every event.
 */
export interface DebounceTimes {
  readonly now: number;
  /** When the first change of the quiet period arrived. */
  readonly firstChangeAt: number;
  /** The latest source event of the quiet period (never after `now`). */
  readonly lastEventAt: number;
  readonly debounceMs: number;
  readonly debounceMaxMs: number;
}

/** Milliseconds from `now` until the push (0: push at once). */
export function pushDelay(t: DebounceTimes): number {
  const quietEnd = Math.min(t.lastEventAt, t.now) + t.debounceMs;
  const cap = t.firstChangeAt + t.debounceMaxMs;
  return Math.max(0, Math.min(quietEnd, cap) - t.now);
}

import test from 'ava';
import { pushDelay } from '../../src/pilot/push-debounce.ts';

/** Pilot's debounce as a table: times in ms, debounce 50 ms, maximum 10 s. */
const rows: { title: string; now: number; firstChangeAt: number; lastEventAt: number; delay: number }[] = [
  { title: 'a change as of now waits the whole quiet period', now: 1000, firstChangeAt: 1000, lastEventAt: 1000, delay: 50 },
  { title: 'a settled source (its last event 60 ms ago) is not waited for again', now: 1000, firstChangeAt: 1000, lastEventAt: 940, delay: 0 },
  { title: 'a source whose last event was 20 ms ago waits the rest', now: 1000, firstChangeAt: 1000, lastEventAt: 980, delay: 30 },
  { title: 'a later event of the period restarts the quiet period', now: 1030, firstChangeAt: 1000, lastEventAt: 1030, delay: 50 },
  { title: 'an event time in the future counts as now', now: 1000, firstChangeAt: 1000, lastEventAt: 5000, delay: 50 },
  { title: 'events that keep coming are cut off at the maximum', now: 10_990, firstChangeAt: 1000, lastEventAt: 10_990, delay: 10 },
  { title: 'past the maximum the push is at once', now: 11_500, firstChangeAt: 1000, lastEventAt: 11_500, delay: 0 },
];

for (const r of rows) {
  test(`pushDelay: ${r.title}`, (t) => {
    t.is(pushDelay({ now: r.now, firstChangeAt: r.firstChangeAt, lastEventAt: r.lastEventAt, debounceMs: 50, debounceMaxMs: 10_000 }), r.delay);
  });
}

import test from 'ava';
import { reconnectDelayMs } from '../../src/xds/ads-client.ts';

/** Attack case 23: reconnects after a control-plane outage back off exponentially, jittered. */
const ROWS: { attempt: number; random: number; delay: number }[] = [
  { attempt: 0, random: 0, delay: 250 },
  { attempt: 0, random: 1, delay: 500 },
  { attempt: 1, random: 0, delay: 500 },
  { attempt: 1, random: 0.5, delay: 750 },
  { attempt: 3, random: 1, delay: 4000 },
  { attempt: 6, random: 0, delay: 15_000 },
  { attempt: 6, random: 1, delay: 30_000 },
  { attempt: 1000, random: 0.5, delay: 22_500 },
];

for (const row of ROWS) {
  test(`reconnect attempt ${row.attempt} with draw ${row.random} waits ${row.delay} ms`, (t) => {
    t.is(reconnectDelayMs(row.attempt, 500, 30_000, () => row.random), row.delay);
  });
}

test('proxies cut off together spread their reconnects over the upper half of the ceiling', (t) => {
  let seed = 42;
  const random = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const delays = Array.from({ length: 1000 }, () => reconnectDelayMs(5, 500, 30_000, random));
  t.true(delays.every((d) => d >= 8000 && d <= 16_000));
  t.true(new Set(delays).size > 500, 'a thousand proxies do not come back in a handful of instants');
  const early = delays.filter((d) => d < 12_000).length;
  t.true(early > 400 && early < 600, `about half in the lower quarter-window: ${early}`);
});

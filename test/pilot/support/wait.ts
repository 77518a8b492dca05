/**
 * Resolves when `check()` becomes true after one of the `subscribe` callbacks fires (or already is);
 * rejects after `limitMs` so that a missed file event fails the test instead of hanging it.
 */
export function waitFor(subscribe: (cb: () => void) => void, check: () => boolean, what: string, limitMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (check()) {
      resolve();
      return;
    }
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(new Error(`timed out waiting for ${what}`));
    }, limitMs);
    subscribe(() => {
      if (!done && check()) {
        done = true;
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

export const silentLogger = (await import('pino')).pino({ level: 'silent' });

/** Polls `check` every 10 ms; rejects after `limitMs` (for state that has no change event). */
export function pollUntil(check: () => boolean, what: string, limitMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = (): void => {
      if (check()) resolve();
      else if (Date.now() - started > limitMs) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

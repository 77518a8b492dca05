/**
 * A keyed work queue with retries (docs/conventions.md, federation events). Watch callbacks only mark a key dirty; one
 * worker then runs the handler for each dirty key, one at a time, in the order keys were added.
 * The handler reads the latest state for its key, so marking a key twice before it runs collapses
 * into one run. A failed run is retried with exponential backoff until it succeeds or the key is
 * marked again (which runs it at once).
 */
import type { Result } from '../common/result.ts';

/** Options of a RetryingQueue. */
export interface RetryingQueueOptions {
  /** First retry delay in ms (default 200); doubles per failure. */
  baseDelayMs?: number;
  /** Retry delay cap in ms (default 5000). */
  maxDelayMs?: number;
  /** Called for each failed run, with the attempt count (1 for the first failure). */
  onFailure?: (key: string, attempt: number, error: Error) => void;
}

export class RetryingQueue {
  private readonly dirty = new Set<string>();
  private readonly attempts = new Map<string, number>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly handler: (key: string) => Promise<Result<void, Error>>,
    private readonly opts: RetryingQueueOptions = {},
  ) {
    this.baseDelayMs = opts.baseDelayMs ?? 200;
    this.maxDelayMs = opts.maxDelayMs ?? 5000;
  }

  /** Marks `key` dirty; its handler runs soon. A pending retry of it is replaced by this run. */
  add(key: string): void {
    if (this.closed) return;
    const timer = this.retryTimers.get(key);
    if (timer) {
      clearTimeout(timer);
      this.retryTimers.delete(key);
    }
    this.dirty.add(key);
    this.start();
  }

  /** True while a failed run of `key` waits for its retry. */
  retrying(key: string): boolean {
    return this.retryTimers.has(key);
  }

  /** Resolves once no work is queued or running (pending retries do not count). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops retries and new work; resolves when the run in progress (if any) has finished. */
  async close(): Promise<void> {
    this.closed = true;
    this.dirty.clear();
    for (const timer of this.retryTimers.values()) clearTimeout(timer);
    this.retryTimers.clear();
    await this.idle();
  }

  private start(): void {
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
      // A key added between the drain's last look and here still needs a run.
      if (this.dirty.size > 0 && !this.closed) this.start();
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      const next = this.dirty.values().next();
      if (next.done || this.closed) return;
      const key = next.value;
      this.dirty.delete(key);
      let outcome: Result<void, Error>;
      try {
        outcome = await this.handler(key);
      } catch (e: unknown) {
        outcome = { ok: false, errors: e instanceof Error ? e : new Error(String(e)) };
      }
      if (outcome.ok) {
        this.attempts.delete(key);
        continue;
      }
      const attempt = (this.attempts.get(key) ?? 0) + 1;
      this.attempts.set(key, attempt);
      this.opts.onFailure?.(key, attempt, outcome.errors);
      if (this.closed || this.dirty.has(key)) continue;
      const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
      const timer = setTimeout(() => {
        this.retryTimers.delete(key);
        this.add(key);
      }, delay);
      timer.unref();
      this.retryTimers.set(key, timer);
    }
  }
}

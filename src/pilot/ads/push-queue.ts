import type { XdsTypeUrl } from '../../xds/type-urls.ts';

/** Work for one stream: regenerate everything it subscribes to, or answer one subscription request. */
export type PushItem = { kind: 'push'; reasons: string[] } | { kind: 'request'; typeUrl: XdsTypeUrl };

const MAX_REASONS = 8;

/**
 * A stream's bounded queue of pending work. Content is generated when an item is taken, not when it
 * is queued, so pushes coalesce without losing anything: a push queued right behind another push,
 * or arriving when the queue is full, merges into the last queued push (the latest model wins).
 * A request for a type that already has one queued is dropped (the queued one answers with the
 * subscription as it is when taken). The queue therefore never holds more than `limit` pushes plus
 * one request per type, however slow the stream is.
 */
export class PushQueue {
  private readonly items: PushItem[] = [];
  /** Pushes merged into an earlier one since the stream opened. */
  coalesced = 0;

  constructor(private readonly limit: number) {}

  get length(): number {
    return this.items.length;
  }

  offerPush(reason: string): void {
    const last = this.items.at(-1);
    const merge =
      last?.kind === 'push' ? last : this.items.length >= this.limit ? this.items.findLast((i) => i.kind === 'push') : undefined;
    if (merge && merge.kind === 'push') {
      this.coalesced++;
      if (merge.reasons.length < MAX_REASONS) merge.reasons.push(reason);
      return;
    }
    this.items.push({ kind: 'push', reasons: [reason] });
  }

  offerRequest(typeUrl: XdsTypeUrl): void {
    if (this.items.some((i) => i.kind === 'request' && i.typeUrl === typeUrl)) return;
    this.items.push({ kind: 'request', typeUrl });
  }

  take(): PushItem | undefined {
    return this.items.shift();
  }
}

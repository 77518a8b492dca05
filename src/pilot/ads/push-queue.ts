import type { XdsTypeUrl } from '../../xds/type-urls.ts';
import type { PushRequest, PushSnapshot } from './push-interface.ts';

/** A queued push: the newest snapshot of the pushes merged into it, and what they changed. */
export interface QueuedPush<S extends PushSnapshot> {
  kind: 'push';
  snapshot: S;
  scope: PushRequest<S>['scope'];
  fullFor?: PushRequest<S>['fullFor'];
  reasons: string[];
  /** The earliest change among the merged pushes. */
  changedAt: number;
}

/** Work for one stream: push one snapshot, or answer one subscription request. */
export type PushItem<S extends PushSnapshot> = QueuedPush<S> | { kind: 'request'; typeUrl: XdsTypeUrl };

const MAX_REASONS = 8;

/** `a` then `b`, as one push of `b`'s snapshot that covers everything either changed. */
function merge<S extends PushSnapshot>(into: QueuedPush<S>, p: PushRequest<S>): void {
  into.snapshot = p.snapshot;
  into.changedAt = Math.min(into.changedAt, p.changedAt);
  if (into.reasons.length < MAX_REASONS) into.reasons.push(p.reason);
  if (into.scope === 'full' || p.scope === 'full') {
    into.scope = 'full';
    delete into.fullFor;
    return;
  }
  const a = into.fullFor;
  const b = p.fullFor;
  if (a && b) into.fullFor = (n) => a(n) || b(n);
  else if (b) into.fullFor = b;
}

/**
 * A stream's bounded queue of pending work. A push carries its snapshot; content is generated from
 * that snapshot when the item is taken. A push queued right behind another push, or arriving when
 * the queue is full, merges into the last queued push: the merged push carries the newest snapshot
 * as a whole (never parts of two), the union of what changed, and the earliest change time, so a
 * stream that falls behind skips the snapshots in between. A request for a type that already has
 * one queued is dropped (the queued one answers with the subscription as it is when taken). The
 * queue therefore never holds more than `limit` pushes plus one request per type.
 */
export class PushQueue<S extends PushSnapshot> {
  private readonly items: PushItem<S>[] = [];
  /** Pushes merged into an earlier one since the stream opened. */
  coalesced = 0;

  constructor(private readonly limit: number) {}

  get length(): number {
    return this.items.length;
  }

  offerPush(p: PushRequest<S>): void {
    const last = this.items.at(-1);
    const target =
      last?.kind === 'push' ? last : this.items.length >= this.limit ? this.items.findLast((i) => i.kind === 'push') : undefined;
    if (target && target.kind === 'push') {
      this.coalesced++;
      merge(target, p);
      return;
    }
    const item: QueuedPush<S> = { kind: 'push', snapshot: p.snapshot, scope: p.scope, reasons: [p.reason], changedAt: p.changedAt };
    if (p.fullFor) item.fullFor = p.fullFor;
    this.items.push(item);
  }

  offerRequest(typeUrl: XdsTypeUrl): void {
    if (this.items.some((i) => i.kind === 'request' && i.typeUrl === typeUrl)) return;
    this.items.push({ kind: 'request', typeUrl });
  }

  take(): PushItem<S> | undefined {
    return this.items.shift();
  }
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, the way client-go's leaderelection does it, so
 * that of several control-plane replicas only one writes status.
 *
 * Every `retryPeriodMs` a candidate reads the Lease and:
 * - creates it when it is missing (409 AlreadyExists: another replica won);
 * - renews it when it holds it (PUT with the read resourceVersion, so a concurrent writer gets 409);
 * - takes it over when it is released (empty holderIdentity) or expired. Expiry is judged by the
 *   local time at which this candidate last saw the Lease record change, plus
 *   leaseDurationSeconds, not by the holder's renewTime, so clock skew between replicas does not
 *   matter.
 * A holder that cannot renew for `renewDeadlineMs` steps down. `stop()` releases a held Lease
 * (holderIdentity emptied, leaseDurationSeconds 1) so a follower takes over at its next try.
 */
import { ApiException, CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { errorMessage } from '../../../common/errors.ts';
import type { Logger } from '../../../common/log.ts';

/** Options of createLeaseElector; validated once. */
export interface LeaseElectorOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  /** This replica's identity (holderIdentity), unique among replicas. */
  identity: string;
  /** Default 15 s. */
  leaseDurationSeconds?: number;
  /** Default 2/3 of the lease duration. */
  renewDeadlineMs?: number;
  /** Default 2 s; must be below the renew deadline. */
  retryPeriodMs?: number;
  logger: Logger;
}

/** A running candidate. */
export interface LeaseElector {
  isLeader(): boolean;
  /** Called with the new state whenever leadership is gained or lost. */
  onChange(cb: (leader: boolean) => void): void;
  /** Stops trying; releases the Lease when held unless `release` is false (a crash). Idempotent. */
  stop(opts?: { release?: boolean }): Promise<void>;
}

export class LeaseOptionsError extends Error {
  readonly code = 'LEASE_OPTIONS';
}

function positiveInt(v: number | undefined, field: string): void {
  if (v !== undefined && (!Number.isInteger(v) || v <= 0)) throw new LeaseOptionsError(`invalid ${field}: must be a positive integer`);
}

function isStatus(e: unknown, code: number): boolean {
  return e instanceof ApiException && e.code === code;
}

/** Starts a candidate at once; its first try runs immediately. */
export function createLeaseElector(opts: LeaseElectorOptions): LeaseElector {
  for (const f of ['namespace', 'name', 'identity'] as const) {
    if (typeof opts[f] !== 'string' || opts[f] === '') throw new LeaseOptionsError(`invalid ${f}: must be a non-empty string`);
  }
  positiveInt(opts.leaseDurationSeconds, 'leaseDurationSeconds');
  positiveInt(opts.renewDeadlineMs, 'renewDeadlineMs');
  positiveInt(opts.retryPeriodMs, 'retryPeriodMs');
  const durationS = opts.leaseDurationSeconds ?? 15;
  const renewDeadlineMs = opts.renewDeadlineMs ?? Math.floor((durationS * 1000 * 2) / 3);
  const retryPeriodMs = opts.retryPeriodMs ?? 2000;
  if (retryPeriodMs >= renewDeadlineMs) throw new LeaseOptionsError('invalid retryPeriodMs: must be below renewDeadlineMs');
  if (renewDeadlineMs >= durationS * 1000) throw new LeaseOptionsError('invalid renewDeadlineMs: must be below leaseDurationSeconds');

  const api = opts.kubeConfig.makeApiClient(CoordinationV1Api);
  const { namespace, name, identity, logger } = opts;
  const listeners: ((leader: boolean) => void)[] = [];
  let leader = false;
  let lastRenew = 0;
  let observed: { record: string; at: number } | undefined;
  let held: V1Lease | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();

  const setLeader = (v: boolean): void => {
    if (v === leader) return;
    leader = v;
    logger.info({ lease: `${namespace}/${name}`, identity }, v ? 'lease acquired' : 'lease lost');
    for (const cb of listeners) cb(v);
  };

  const spec = (prev: V1Lease['spec'] | undefined, now: V1MicroTime) => {
    const takeover = prev?.holderIdentity !== identity;
    return {
      holderIdentity: identity,
      leaseDurationSeconds: durationS,
      renewTime: now,
      acquireTime: takeover || prev?.acquireTime === undefined ? now : prev.acquireTime,
      leaseTransitions: (prev?.leaseTransitions ?? 0) + (takeover && prev?.holderIdentity ? 1 : 0),
    };
  };

  const tryOnce = async (): Promise<void> => {
    const now = new V1MicroTime();
    let current: V1Lease;
    try {
      current = await api.readNamespacedLease({ name, namespace });
    } catch (e: unknown) {
      if (!isStatus(e, 404)) throw e;
      try {
        held = await api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: spec(undefined, now) } });
        lastRenew = Date.now();
        setLeader(true);
      } catch (e2: unknown) {
        if (!isStatus(e2, 409)) throw e2;
      }
      return;
    }
    const s = current.spec;
    const record = JSON.stringify([s?.holderIdentity, s?.renewTime, s?.leaseDurationSeconds, current.metadata?.resourceVersion]);
    if (observed?.record !== record) observed = { record, at: Date.now() };
    const holder = s?.holderIdentity ?? '';
    const expired = observed.at + (s?.leaseDurationSeconds ?? durationS) * 1000 < Date.now();
    if (holder !== identity && holder !== '' && !expired) {
      setLeader(false);
      return;
    }
    try {
      held = await api.replaceNamespacedLease({ name, namespace, body: { ...current, spec: spec(s, now) } });
      lastRenew = Date.now();
      setLeader(true);
    } catch (e: unknown) {
      if (!isStatus(e, 409)) throw e;
      setLeader(false);
    }
  };

  const loop = (): void => {
    if (stopped) return;
    running = tryOnce()
      .catch((e: unknown) => {
        logger.warn({ lease: `${namespace}/${name}`, err: errorMessage(e) }, 'lease try failed');
        if (leader && Date.now() - lastRenew > renewDeadlineMs) setLeader(false);
      })
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, retryPeriodMs);
      });
  };
  loop();

  return {
    isLeader: () => leader,
    onChange(cb) {
      listeners.push(cb);
    },
    async stop(o = {}) {
      if (stopped) return;
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      if (leader && held && o.release !== false) {
        try {
          const now = new V1MicroTime();
          await api.replaceNamespacedLease({
            name,
            namespace,
            body: { ...held, spec: { ...held.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now } },
          });
        } catch (e: unknown) {
          logger.warn({ lease: `${namespace}/${name}`, err: errorMessage(e) }, 'lease release failed');
        }
      }
      setLeader(false);
    },
  };
}

import { errorMessage } from '../common/errors.ts';
import type { Result } from '../common/result.ts';
import { sameData } from '../common/same-data.ts';
import type {
  ClusterConfig,
  ClusterLoadAssignmentConfig,
  ListenerConfig,
  ProxyConfig,
  RouteTable,
} from './config-types.ts';
import type { RawResource } from './discovery-response-raw.ts';
import type { XdsTypeUrl } from './type-urls.ts';

/**
 * What the proxies' ADS client (ads-client.ts) holds per resource type, whichever protocol fills
 * it: the accepted resources (last good value, the bytes it was validated from, its delta version)
 * and the protocol state of the subscription.
 */
export type Kind = keyof ProxyConfig['versions'];

export interface TypeDesc<T> {
  kind: Kind;
  typeUrl: XdsTypeUrl;
  validate: (r: unknown) => Result<T>;
  nameOf: (v: T) => string;
  /** SotW LDS/CDS: a resource missing from a response is deleted (delta names removals instead). */
  removesAbsent: boolean;
  /** Optional: re-validation of changed bytes from the accepted version's parts (RDS: per virtual host). */
  deltaBase?: (bytes: Buffer, value: T) => DeltaBase<T> | undefined;
}

/** An accepted resource, able to validate new bytes of itself where they differ (route-table-delta.ts). */
interface DeltaBase<T> {
  /** Undefined: validate the new bytes in full. */
  update(bytes: Buffer): { value: T; base: DeltaBase<T>; decoded: number } | undefined;
}

/** An accepted resource and the encoded bytes it was validated from. */
interface Accepted<T> {
  readonly value: T;
  readonly bytes: Buffer;
  readonly base?: DeltaBase<T> | undefined;
  /** Delta xDS: the version the server gave the resource. */
  readonly version?: string | undefined;
}

/** Per type: accepted resources (last good) and the protocol state of the subscription. */
export class TypeState<T> {
  private readonly accepted = new Map<string, Accepted<T>>();
  /** version_info of the last fully accepted response. */
  version = '';
  /** nonce of the last response received on the current stream. */
  nonce = '';
  /** Subscribed names (LDS/CDS: wildcard, always empty). */
  names = new Set<string>();
  /** A request for this type went out on the current stream. */
  requested = false;
  /** At least one response was processed (since start, across streams). */
  received = false;
  /** Resources decoded and validated so far (those whose bytes matched the accepted ones are not). */
  decoded = 0;
  /** Parts (virtual hosts) decoded and validated by delta updates. */
  partsDecoded = 0;

  constructor(readonly desc: TypeDesc<T>) {}

  get(name: string): T | undefined {
    return this.accepted.get(name)?.value;
  }

  has(name: string): boolean {
    return this.accepted.has(name);
  }

  /** Names of the accepted resources. */
  acceptedNames(): string[] {
    return [...this.accepted.keys()];
  }

  values(): T[] {
    return [...this.accepted.values()].map((a) => a.value);
  }

  delete(name: string): void {
    this.accepted.delete(name);
  }

  /** The accepted resources by name (a copy). */
  copy(): Map<string, T> {
    return new Map([...this.accepted].map(([n, a]) => [n, a.value]));
  }

  /** Delta xDS: drops the named resources; returns whether any was held. */
  remove(names: readonly string[]): boolean {
    let changed = false;
    for (const n of names) changed = this.accepted.delete(n) || changed;
    return changed;
  }

  /** Delta xDS: name → version of the accepted resources that have one (a new stream's `initial_resource_versions`). */
  heldVersions(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [n, a] of this.accepted) if (a.version !== undefined) out[n] = a.version;
    return out;
  }

  /**
   * Validates and applies one response's resources; returns whether the accepted set changed.
   * A resource whose type URL and encoded bytes equal those of the accepted resource of its name
   * is that resource (validation is a pure function of the bytes): it is neither decoded nor
   * validated again. Every other one is decoded and validated; valid ones replace their previous
   * value, invalid ones are named in `errors` and keep it. Deletions (LDS/CDS) apply only when the
   * whole response is valid.
   */
  apply(resources: readonly RawResource[], removeAbsent = this.desc.removesAbsent): { changed: boolean; errors: string[] } {
    const errors: string[] = [];
    const valid = new Map<string, Accepted<T>>();
    const seen = new Set<string>();
    resources.forEach((raw, i) => {
      const key = raw.key;
      const same = key !== undefined && key !== '' && raw.typeUrl === this.desc.typeUrl ? this.accepted.get(key) : undefined;
      if (key !== undefined && same?.bytes.equals(raw.value) === true) {
        if (seen.has(key)) errors.push(`${key}: duplicate resource`);
        else if (raw.version !== undefined && raw.version !== same.version) this.accepted.set(key, { ...same, version: raw.version });
        seen.add(key);
        return;
      }
      this.decoded++;
      const base = key !== undefined && raw.typeUrl === this.desc.typeUrl ? this.accepted.get(key)?.base : undefined;
      const delta = base?.update(raw.value);
      if (key !== undefined && delta !== undefined) {
        this.partsDecoded += delta.decoded;
        if (seen.has(key)) errors.push(`${key}: duplicate resource`);
        else valid.set(key, { value: delta.value, bytes: Buffer.from(raw.value), base: delta.base, version: raw.version });
        seen.add(key);
        return;
      }
      let res: unknown;
      try {
        res = raw.decode();
      } catch (e: unknown) {
        errors.push(`${key ?? `resources[${i}]`}: cannot decode ${raw.typeUrl}: ${errorMessage(e)}`);
        return;
      }
      const name = rawName(res) ?? `resources[${i}]`;
      const type = typeof res === 'object' && res !== null ? (res as Record<string, unknown>)['@type'] : undefined;
      if (type !== this.desc.typeUrl) {
        errors.push(`${name}: @type ${JSON.stringify(type)} is not ${this.desc.typeUrl}`);
        return;
      }
      if (seen.has(name)) {
        errors.push(`${name}: duplicate resource`);
        return;
      }
      seen.add(name);
      const v = this.desc.validate(res);
      // A copy: the response's buffer is not kept alive by the resources it carried.
      if (v.ok) {
        const bytes = Buffer.from(raw.value);
        valid.set(this.desc.nameOf(v.value), { value: v.value, bytes, base: this.desc.deltaBase?.(bytes, v.value), version: raw.version });
      }
      else errors.push(`${name}: ${v.errors.join('; ')}`);
    });
    let changed = false;
    for (const [name, next] of valid) {
      const prev = this.accepted.get(name);
      if (prev === undefined || !sameData(prev.value, next.value)) {
        this.accepted.set(name, next);
        changed = true;
      } else {
        // Same config from other bytes: keep the value, remember the newest bytes.
        this.accepted.set(name, { value: prev.value, bytes: next.bytes, base: next.base, version: next.version });
      }
    }
    if (removeAbsent && errors.length === 0) {
      for (const name of [...this.accepted.keys()]) {
        if (!seen.has(name)) {
          this.accepted.delete(name);
          changed = true;
        }
      }
    }
    return { changed, errors };
  }
}

export type AnyState =
  | TypeState<ListenerConfig>
  | TypeState<RouteTable>
  | TypeState<ClusterConfig>
  | TypeState<ClusterLoadAssignmentConfig>;

export const rawName = (r: unknown): string | undefined => {
  if (typeof r !== 'object' || r === null) return undefined;
  const o = r as Record<string, unknown>;
  const n = o['name'] ?? o['cluster_name'];
  return typeof n === 'string' && n !== '' ? n : undefined;
};


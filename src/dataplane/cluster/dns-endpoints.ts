import type { ClusterConfig, EndpointConfig } from '../../xds/config-types.ts';
import type { DnsLookup } from './dns-resolver.ts';
import type { DnsResolutionError } from './errors.ts';

/** Where DnsEndpoints reports: the new host list, and failures (hosts are kept on failure). */
export interface DnsEndpointsEvents {
  changed(endpoints: readonly EndpointConfig[]): void;
  failed?(error: DnsResolutionError): void;
}

interface NameState {
  addresses: string[] | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Bumped on every (re)start, so that an answer to a superseded query is dropped. */
  generation: number;
}

/**
 * The hosts of one STRICT_DNS / LOGICAL_DNS cluster, as Envoy resolves them. Contract:
 * - each distinct endpoint name is resolved at once, then again after its answer's TTL (when the
 *   cluster respects TTLs and the TTL is above 0) or the cluster's refresh rate;
 * - STRICT_DNS: every address of every name is a host (the endpoint's port, weight, locality and
 *   metadata copied); LOGICAL_DNS: the first address of its one name;
 * - an empty answer (NXDOMAIN, no A record) removes that name's hosts; a failed query keeps them
 *   and is retried after the refresh rate;
 * - `changed` runs only when the host list differs; `reconfigure` keeps the answers of names that
 *   remain and resolves again; `close` stops every timer. Never throws.
 */
export class DnsEndpoints {
  #config: ClusterConfig;
  readonly #lookup: DnsLookup;
  readonly #events: DnsEndpointsEvents;
  readonly #names = new Map<string, NameState>();
  #current: readonly EndpointConfig[] = [];
  #closed = false;

  constructor(config: ClusterConfig, lookup: DnsLookup, events: DnsEndpointsEvents) {
    this.#config = config;
    this.#lookup = lookup;
    this.#events = events;
    this.#start();
  }

  get endpoints(): readonly EndpointConfig[] {
    return this.#current;
  }

  reconfigure(config: ClusterConfig): void {
    this.#config = config;
    this.#start();
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#names.values()) clearTimeout(s.timer);
  }

  #templates(): readonly EndpointConfig[] {
    const all = this.#config.staticEndpoints ?? [];
    return this.#config.type === 'LOGICAL_DNS' ? all.slice(0, 1) : all;
  }

  #start(): void {
    const wanted = new Set(this.#templates().map((e) => e.address.host));
    for (const [name, s] of this.#names) {
      if (wanted.has(name)) continue;
      clearTimeout(s.timer);
      this.#names.delete(name);
    }
    for (const name of wanted) {
      const s = this.#names.get(name) ?? { addresses: undefined, timer: undefined, generation: 0 };
      this.#names.set(name, s);
      this.#resolve(name, s);
    }
    this.#publish(true);
  }

  #resolve(name: string, s: NameState): void {
    clearTimeout(s.timer);
    s.timer = undefined;
    const generation = ++s.generation;
    void this.#lookup(name).then((r) => {
      if (this.#closed || s.generation !== generation || this.#names.get(name) !== s) return;
      const dns = this.#config.dns;
      let nextMs = dns?.refreshRateMs ?? 5000;
      if (r.ok) {
        s.addresses = r.value.addresses;
        if (dns?.respectTtl && r.value.ttlSeconds > 0) nextMs = r.value.ttlSeconds * 1000;
        this.#publish();
      } else {
        this.#events.failed?.(r.errors);
      }
      s.timer = setTimeout(() => this.#resolve(name, s), nextMs);
      s.timer.unref();
    });
  }

  #publish(force = false): void {
    const out: EndpointConfig[] = [];
    const logical = this.#config.type === 'LOGICAL_DNS';
    for (const t of this.#templates()) {
      const addresses = this.#names.get(t.address.host)?.addresses ?? [];
      for (const a of logical ? addresses.slice(0, 1) : addresses) out.push({ ...t, address: { host: a, port: t.address.port } });
    }
    const key = (list: readonly EndpointConfig[]): string => list.map((e) => `${e.address.host}:${e.address.port}/${e.weight}`).join(',');
    if (!force && key(out) === key(this.#current)) return;
    this.#current = out;
    this.#events.changed(out);
  }
}

/**
 * The memory discovery backend: a client of `startMemoryDiscoveryServer`, speaking for one
 * datacenter (its cluster). Blocking reads are HTTP long-polls with Consul's `index` + `wait`.
 */
import { z } from 'zod';
import { errorCode, errorMessage } from '../common/errors.ts';
import { fail, ok, type Result } from '../common/result.ts';
import { type ConsulRegistration, MESHFED_TAG } from './consul/conversion.ts';
import {
  type Blocking,
  type BlockingOptions,
  type DiscoveryBackend,
  type DiscoveryResult,
  trustBundleKey,
} from './discovery-interface.ts';
import { DiscoveryError } from './federation-errors.ts';

/** Options of the memory backend. */
export interface MemoryDiscoveryOptions {
  /** Base URL of the memory discovery server (its `url`). */
  url: string;
  /** The local datacenter: where this client registers and publishes. */
  datacenter: string;
  /** Deadline of non-blocking requests, in ms (default 5000). */
  requestTimeoutMs?: number;
}

const stringArraySchema = z.array(z.string());
const servicesSchema = z.record(z.string(), z.array(z.string()));

interface Answer {
  status: number;
  index: string | undefined;
  text: string;
}

function parseJson<T>(schema: z.ZodType<T>, text: string, what: string): Result<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return fail([`${what}: invalid JSON`]);
  }
  const parsed = schema.safeParse(raw);
  return parsed.success ? ok(parsed.data) : fail([`${what}: unexpected shape`]);
}

class MemoryDiscovery implements DiscoveryBackend {
  readonly kind = 'memory' as const;
  private readonly base: string;
  private readonly dc: string;
  private readonly timeoutMs: number;
  private readonly closing = new AbortController();

  constructor(opts: MemoryDiscoveryOptions) {
    this.base = opts.url.replace(/\/+$/, '');
    this.dc = opts.datacenter;
    this.timeoutMs = opts.requestTimeoutMs ?? 5000;
  }

  private dcPath(dc: string, ...segments: string[]): string {
    return ['/v1/dc', dc, ...segments].map((s, i) => (i === 0 ? s : encodeURIComponent(s))).join('/');
  }

  /** One HTTP exchange; transport failures and non-2xx (except `allow`) become DiscoveryErrors. */
  private async request(
    what: string,
    method: string,
    path: string,
    opts: { body?: string; signal?: AbortSignal | undefined; timeoutMs?: number; allow?: number[] } = {},
  ): DiscoveryResult<Answer> {
    const signals = [this.closing.signal, AbortSignal.timeout(opts.timeoutMs ?? this.timeoutMs)];
    if (opts.signal) signals.push(opts.signal);
    const aborted = (): boolean => this.closing.signal.aborted || opts.signal?.aborted === true;
    if (aborted()) return fail(new DiscoveryError('DISCOVERY_ABORTED', `${what}: aborted`));
    try {
      const res = await fetch(this.base + path, {
        method,
        ...(opts.body !== undefined ? { body: opts.body } : {}),
        signal: AbortSignal.any(signals),
      });
      const text = await res.text();
      if (!res.ok && !opts.allow?.includes(res.status)) {
        return fail(new DiscoveryError('DISCOVERY_REQUEST_FAILED', `${what}: HTTP ${res.status}: ${text.slice(0, 200)}`));
      }
      return ok({ status: res.status, index: res.headers.get('x-consul-index') ?? undefined, text });
    } catch (e: unknown) {
      if (aborted()) return fail(new DiscoveryError('DISCOVERY_ABORTED', `${what}: aborted`));
      // fetch's own message is always "fetch failed"; the cause says why (ECONNREFUSED, …).
      const code = errorCode(e instanceof Error ? e.cause : undefined);
      return fail(new DiscoveryError('DISCOVERY_UNAVAILABLE', `${what}: ${errorMessage(e)}${code ? ` (${code})` : ''}`, { cause: e }));
    }
  }

  private async json<T>(what: string, method: string, path: string, schema: z.ZodType<T>): DiscoveryResult<T> {
    const answer = await this.request(what, method, path);
    if (!answer.ok) return answer;
    const parsed = parseJson(schema, answer.value.text, what);
    return parsed.ok ? parsed : fail(new DiscoveryError('DISCOVERY_BAD_RESPONSE', parsed.errors.join('; ')));
  }

  private async blocking<T>(
    what: string,
    path: string,
    opts: BlockingOptions,
    parse: (text: string) => Result<T>,
  ): DiscoveryResult<Blocking<T>> {
    const query = new URLSearchParams({ wait: `${opts.waitSeconds}s` });
    if (opts.index) query.set('index', opts.index);
    const answer = await this.request(what, 'GET', `${path}?${query}`, {
      signal: opts.signal,
      timeoutMs: (opts.waitSeconds + 10) * 1000,
    });
    if (!answer.ok) return answer;
    const { index, text } = answer.value;
    const value = parse(text);
    if (!value.ok || index === undefined) {
      const detail = value.ok ? 'missing X-Consul-Index' : value.errors.join('; ');
      return fail(new DiscoveryError('DISCOVERY_BAD_RESPONSE', `${what}: ${detail}`));
    }
    return ok({ index, value: value.value });
  }

  private async done(answer: Result<Answer, DiscoveryError>): DiscoveryResult<void> {
    return answer.ok ? ok(undefined) : answer;
  }

  async register(r: ConsulRegistration): DiscoveryResult<void> {
    const body = JSON.stringify(r);
    return this.done(await this.request(`register ${r.id}`, 'PUT', this.dcPath(this.dc, 'service'), { body }));
  }

  async deregister(id: string): DiscoveryResult<void> {
    return this.done(
      await this.request(`deregister ${id}`, 'DELETE', this.dcPath(this.dc, 'service', id), { allow: [404] }),
    );
  }

  async heartbeat(checkId: string): DiscoveryResult<void> {
    return this.done(await this.request(`heartbeat ${checkId}`, 'PUT', this.dcPath(this.dc, 'check', checkId, 'pass')));
  }

  async localServiceIds(): DiscoveryResult<string[]> {
    const answer = await this.request('list services', 'GET', this.dcPath(this.dc, 'service-ids'), { allow: [404] });
    if (!answer.ok) return answer;
    if (answer.value.status === 404) return ok([]);
    const parsed = parseJson(stringArraySchema, answer.value.text, 'service ids');
    return parsed.ok ? parsed : fail(new DiscoveryError('DISCOVERY_BAD_RESPONSE', parsed.errors.join('; ')));
  }

  datacenters(): DiscoveryResult<string[]> {
    return this.json('list datacenters', 'GET', '/v1/datacenters', stringArraySchema);
  }

  watchServiceNames(datacenter: string, opts: BlockingOptions): DiscoveryResult<Blocking<string[]>> {
    return this.blocking(`watch services of ${datacenter}`, this.dcPath(datacenter, 'services'), opts, (text) => {
      const parsed = parseJson(servicesSchema, text, 'services');
      if (!parsed.ok) return parsed;
      return ok(
        Object.entries(parsed.value)
          .filter(([, tags]) => tags.includes(MESHFED_TAG))
          .map(([name]) => name)
          .sort(),
      );
    });
  }

  watchServiceHealth(datacenter: string, service: string, opts: BlockingOptions): DiscoveryResult<Blocking<unknown>> {
    return this.blocking(
      `watch health of ${service} in ${datacenter}`,
      this.dcPath(datacenter, 'health', service),
      opts,
      (text) => parseJson(z.unknown(), text, 'health'),
    );
  }

  async putTrustBundle(cluster: string, rootCertPem: string): DiscoveryResult<void> {
    const path = this.dcPath(this.dc, 'kv', ...trustBundleKey(cluster).split('/'));
    return this.done(await this.request(`put trust bundle of ${cluster}`, 'PUT', path, { body: rootCertPem }));
  }

  async getTrustBundle(datacenter: string, cluster: string): DiscoveryResult<string | undefined> {
    const path = this.dcPath(datacenter, 'kv', ...trustBundleKey(cluster).split('/'));
    const answer = await this.request(`get trust bundle of ${cluster} from ${datacenter}`, 'GET', path, {
      allow: [404],
    });
    if (!answer.ok) return answer;
    return ok(answer.value.status === 404 ? undefined : answer.value.text);
  }

  async close(): Promise<void> {
    this.closing.abort();
  }
}

/** Creates a memory backend client for `datacenter` of the server at `url`. */
export function createMemoryDiscovery(opts: MemoryDiscoveryOptions): DiscoveryBackend {
  return new MemoryDiscovery(opts);
}

/**
 * The Consul discovery backend: the npm `consul` client against the cluster's local agent. Local
 * writes (register, heartbeat, KV put) go to the agent; reads of other datacenters pass `dc` and
 * are forwarded by the local servers over the WAN. Watches are Consul blocking queries (`index` +
 * `wait`), aborted through papi's `ctx` cancel event.
 */
import { EventEmitter } from 'node:events';
import https from 'node:https';
import Consul from 'consul';
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

/** How the backend reaches the agent's API over HTTPS (Consul's `CONSUL_CACERT` and friends). */
export interface ConsulTlsOptions {
  /** PEM roots that verify the agent's certificate. */
  ca: string;
  /** A client certificate and key (PEM), for agents with `verify_incoming_https`. */
  cert?: string | undefined;
  key?: string | undefined;
  /** The name checked against the agent's certificate; default the host (an IP SAN or DNS name). */
  serverName?: string | undefined;
}

/** Options of the Consul backend: where the local agent's HTTP API listens, and how to talk to it. */
export interface ConsulDiscoveryOptions {
  host: string;
  port: number;
  /** Deadline of non-blocking requests, in ms (default 5000). */
  requestTimeoutMs?: number;
  /** The ACL token sent with every request (`X-Consul-Token`); Consul's anonymous token without. */
  token?: string | undefined;
  /** HTTPS to the agent; plain HTTP without. */
  tls?: ConsulTlsOptions | undefined;
}

/** Options papi (the client's HTTP layer) accepts beside the typed ones. */
interface PapiOptions {
  /** Emitting `cancel` on it aborts the request; `includeResponse` returns `[res, body]`. */
  ctx?: EventEmitter & { includeResponse?: boolean };
  timeout?: number;
}

const responseTupleSchema = z.tuple([
  z.object({ headers: z.record(z.string(), z.unknown()) }),
  z.unknown(),
]);
const servicesSchema = z.record(z.string(), z.array(z.string()).nullable());
const datacentersSchema = z.array(z.string());
const kvItemSchema = z.object({ Value: z.string().nullable() }).nullish();
const agentServicesSchema = z.record(z.string(), z.unknown());

function papiStatus(e: unknown): number | undefined {
  if (typeof e === 'object' && e !== null && 'statusCode' in e) {
    const status = (e as { statusCode: unknown }).statusCode;
    return typeof status === 'number' ? status : undefined;
  }
  return undefined;
}

class ConsulDiscovery implements DiscoveryBackend {
  readonly kind = 'consul' as const;
  private readonly consul: Consul;
  private readonly timeoutMs: number;
  /** Every in-flight request's ctx, so close() can cancel them all. */
  private readonly inflight = new Set<EventEmitter>();
  private closed = false;

  constructor(opts: ConsulDiscoveryOptions) {
    const tls = opts.tls;
    this.consul = new Consul({
      host: opts.host,
      port: opts.port,
      ...(tls
        ? {
            secure: true,
            agent: new https.Agent({
              keepAlive: true,
              ca: tls.ca,
              ...(tls.cert !== undefined && tls.key !== undefined ? { cert: tls.cert, key: tls.key } : {}),
              ...(tls.serverName !== undefined ? { servername: tls.serverName } : {}),
            }),
          }
        : {}),
      ...(opts.token ? { defaults: { token: opts.token } } : {}),
    });
    this.timeoutMs = opts.requestTimeoutMs ?? 5000;
  }

  /** Runs one client call with a cancellable ctx, mapping every failure to a DiscoveryError. */
  private async call<T>(
    what: string,
    fn: (papi: PapiOptions) => Promise<unknown>,
    parse: (raw: unknown) => Result<T>,
    opts: { signal?: AbortSignal | undefined; timeoutMs?: number; includeResponse?: boolean } = {},
  ): DiscoveryResult<T> {
    if (this.closed || opts.signal?.aborted) {
      return fail(new DiscoveryError('DISCOVERY_ABORTED', `${what}: aborted`));
    }
    const ctx: EventEmitter & { includeResponse?: boolean } = new EventEmitter();
    if (opts.includeResponse) ctx.includeResponse = true;
    const cancel = (): void => {
      ctx.emit('cancel');
    };
    opts.signal?.addEventListener('abort', cancel, { once: true });
    this.inflight.add(ctx);
    try {
      const raw = await fn({ ctx, timeout: opts.timeoutMs ?? this.timeoutMs });
      const parsed = parse(raw);
      if (!parsed.ok) {
        return fail(new DiscoveryError('DISCOVERY_BAD_RESPONSE', `${what}: ${parsed.errors.join('; ')}`));
      }
      return ok(parsed.value);
    } catch (e: unknown) {
      if (this.closed || opts.signal?.aborted) {
        return fail(new DiscoveryError('DISCOVERY_ABORTED', `${what}: aborted`));
      }
      const status = papiStatus(e);
      if (status === 403) {
        return fail(
          new DiscoveryError('DISCOVERY_PERMISSION_DENIED', `${what}: HTTP 403 from Consul (check the ACL token's policy): ${errorMessage(e)}`, { cause: e }),
        );
      }
      if (status !== undefined) {
        return fail(
          new DiscoveryError('DISCOVERY_REQUEST_FAILED', `${what}: HTTP ${status}: ${errorMessage(e)}`, { cause: e }),
        );
      }
      const code = errorCode(e);
      return fail(
        new DiscoveryError('DISCOVERY_UNAVAILABLE', `${what}: ${code ? `${code} ` : ''}${errorMessage(e)}`, {
          cause: e,
        }),
      );
    } finally {
      opts.signal?.removeEventListener('abort', cancel);
      this.inflight.delete(ctx);
    }
  }

  /** Runs a blocking query, returning its body and the `X-Consul-Index` of the answer. */
  private blocking<T>(
    what: string,
    opts: BlockingOptions,
    fn: (query: { index?: string; wait: string } & PapiOptions) => Promise<unknown>,
    parseBody: (raw: unknown) => Result<T>,
  ): DiscoveryResult<Blocking<T>> {
    return this.call(
      what,
      (papi) => fn({ ...papi, wait: `${opts.waitSeconds}s`, ...(opts.index ? { index: opts.index } : {}) }),
      (raw) => {
        const tuple = responseTupleSchema.safeParse(raw);
        if (!tuple.success) return fail(['unexpected response shape']);
        const [res, body] = tuple.data;
        const header = res.headers['x-consul-index'];
        if (typeof header !== 'string' || !/^\d+$/.test(header)) return fail(['missing X-Consul-Index']);
        const value = parseBody(body);
        return value.ok ? ok({ index: header, value: value.value }) : value;
      },
      { signal: opts.signal, timeoutMs: (opts.waitSeconds + 10) * 1000, includeResponse: true },
    );
  }

  register(r: ConsulRegistration): DiscoveryResult<void> {
    return this.call(
      `register ${r.id}`,
      (papi) =>
        this.consul.agent.service.register({
          ...papi,
          id: r.id,
          name: r.name,
          address: r.address,
          port: r.port,
          tags: r.tags,
          meta: r.meta,
          check: {
            name: `meshfed TTL ${r.id}`,
            checkid: r.check.id,
            ttl: r.check.ttl,
            status: r.check.status,
            deregistercriticalserviceafter: r.check.deregisterCriticalServiceAfter,
            timeout: r.check.ttl,
          },
        }),
      () => ok(undefined),
    );
  }

  deregister(id: string): DiscoveryResult<void> {
    return this.call(
      `deregister ${id}`,
      (papi) => this.consul.agent.service.deregister({ ...papi, id }),
      () => ok(undefined),
    );
  }

  heartbeat(checkId: string): DiscoveryResult<void> {
    return this.call(
      `heartbeat ${checkId}`,
      (papi) => this.consul.agent.check.pass({ ...papi, id: checkId }),
      () => ok(undefined),
    );
  }

  localServiceIds(): DiscoveryResult<string[]> {
    return this.call(
      'list agent services',
      (papi) => this.consul.agent.service.list(papi as { token?: string }),
      (raw) => {
        const parsed = agentServicesSchema.safeParse(raw);
        return parsed.success ? ok(Object.keys(parsed.data)) : fail(['agent services: expected an object']);
      },
    );
  }

  datacenters(): DiscoveryResult<string[]> {
    return this.call(
      'list datacenters',
      (papi) => this.consul.catalog.datacenters(papi as { token?: string }),
      (raw) => {
        const parsed = datacentersSchema.safeParse(raw);
        return parsed.success ? ok(parsed.data) : fail(['datacenters: expected an array of names']);
      },
    );
  }

  watchServiceNames(datacenter: string, opts: BlockingOptions): DiscoveryResult<Blocking<string[]>> {
    return this.blocking(
      `watch services of ${datacenter}`,
      opts,
      (query) => this.consul.catalog.service.list({ ...query, dc: datacenter }),
      (raw) => {
        const parsed = servicesSchema.safeParse(raw);
        if (!parsed.success) return fail(['services: expected a map of tags']);
        const names = Object.entries(parsed.data)
          .filter(([, tags]) => tags?.includes(MESHFED_TAG))
          .map(([name]) => name)
          .sort();
        return ok(names);
      },
    );
  }

  watchServiceHealth(datacenter: string, service: string, opts: BlockingOptions): DiscoveryResult<Blocking<unknown>> {
    return this.blocking(
      `watch health of ${service} in ${datacenter}`,
      opts,
      (query) => this.consul.health.service({ ...query, service, dc: datacenter }),
      (raw) => ok(raw),
    );
  }

  putTrustBundle(cluster: string, rootCertPem: string): DiscoveryResult<void> {
    return this.call(
      `put trust bundle of ${cluster}`,
      (papi) => this.consul.kv.set({ ...papi, key: trustBundleKey(cluster), value: rootCertPem }),
      (raw) => (raw === true ? ok(undefined) : fail(['KV put was not applied'])),
    );
  }

  getTrustBundle(datacenter: string, cluster: string): DiscoveryResult<string | undefined> {
    return this.call(
      `get trust bundle of ${cluster} from ${datacenter}`,
      (papi) => this.consul.kv.get({ ...papi, key: trustBundleKey(cluster), dc: datacenter }),
      (raw) => {
        const parsed = kvItemSchema.safeParse(raw);
        if (!parsed.success) return fail(['KV entry: unexpected shape']);
        return ok(parsed.data?.Value ?? undefined);
      },
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const ctx of this.inflight) ctx.emit('cancel');
    this.inflight.clear();
    this.consul.destroy();
  }
}

/** Creates the Consul backend for the agent at `host:port`. No request is made until first use. */
export function createConsulDiscovery(opts: ConsulDiscoveryOptions): DiscoveryBackend {
  return new ConsulDiscovery(opts);
}

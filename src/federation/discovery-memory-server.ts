/**
 * The embedded discovery store used when no Consul binary is around: a tiny HTTP server that the
 * local runner hosts once for all clusters, each cluster's control plane (a separate process)
 * talking to it through `createMemoryDiscovery`. It keeps Consul's semantics that federation
 * relies on, and nothing more: datacenters, service instances with TTL checks that turn critical
 * when not renewed, a KV store per datacenter, and blocking reads (`index` + `wait`) answered in
 * the shape of Consul's `/v1/health/service/<name>`. State lives in memory only.
 *
 * Routes (JSON unless noted; `:dc` is the datacenter, created by any write to it):
 *   GET    /v1/datacenters
 *   PUT    /v1/dc/:dc/service                 body: ConsulRegistration
 *   DELETE /v1/dc/:dc/service/:id
 *   PUT    /v1/dc/:dc/check/:checkId/pass     404 when the check is unknown
 *   GET    /v1/dc/:dc/service-ids
 *   GET    /v1/dc/:dc/services?index=&wait=   blocking; { name: tags[] }
 *   GET    /v1/dc/:dc/health/:name?index=&wait=  blocking
 *   PUT|GET /v1/dc/:dc/kv/:key                 text body; GET answers 404 when absent
 * Blocking answers carry `X-Consul-Index`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { ConsulRegistration } from './consul/conversion.ts';

/** A running memory discovery server. */
export interface MemoryDiscoveryServer {
  /** Base URL, e.g. `http://127.0.0.1:8600`; hand it to `createMemoryDiscovery`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Ends pending blocking reads, closes every connection, stops the TTL timer. */
  close(): Promise<void>;
}

/** Options of `startMemoryDiscoveryServer`. Port 0 picks a free port. */
export interface MemoryDiscoveryServerOptions {
  host: string;
  port: number;
  /** How often TTLs are checked, in ms (default 100). */
  ttlResolutionMs?: number;
}

const registrationSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  address: z.string(),
  port: z.number().int(),
  tags: z.array(z.string()),
  meta: z.record(z.string(), z.string()),
  check: z.object({
    id: z.string().min(1),
    ttl: z.string().regex(/^\d+(\.\d+)?s$/),
    status: z.literal('passing'),
    deregisterCriticalServiceAfter: z.string(),
  }),
});

interface Instance {
  registration: ConsulRegistration;
  status: 'passing' | 'critical';
  ttlMs: number;
  expiresAt: number;
}

interface Datacenter {
  instances: Map<string, Instance>;
  kv: Map<string, string>;
}

const MAX_WAIT_MS = 60_000;
const MAX_BODY = 1 << 20;

function parseWaitMs(text: string | null): number {
  if (!text) return 5 * 60_000;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (!m) return 5_000;
  const n = Number(m[1]);
  const unit = m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000;
  return Math.min(n * unit, MAX_WAIT_MS);
}

function send(res: ServerResponse, status: number, body: unknown, index?: number): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const headers: Record<string, string> = {
    'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
  };
  if (index !== undefined) headers['x-consul-index'] = String(index);
  res.writeHead(status, headers).end(text);
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buf.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts the memory discovery server on `host:port` and resolves once it listens. */
export async function startMemoryDiscoveryServer(opts: MemoryDiscoveryServerOptions): Promise<MemoryDiscoveryServer> {
  const dcs = new Map<string, Datacenter>();
  let index = 1;
  const waiters = new Set<() => void>();

  const bump = (): void => {
    index += 1;
    const woken = [...waiters];
    waiters.clear();
    for (const wake of woken) wake();
  };
  const ensureDc = (name: string): Datacenter => {
    let dc = dcs.get(name);
    if (!dc) {
      dc = { instances: new Map(), kv: new Map() };
      dcs.set(name, dc);
      bump();
    }
    return dc;
  };

  const ttlTimer = setInterval(() => {
    const now = Date.now();
    let changed = false;
    for (const dc of dcs.values()) {
      for (const inst of dc.instances.values()) {
        if (inst.status === 'passing' && now > inst.expiresAt) {
          inst.status = 'critical';
          changed = true;
        }
      }
    }
    if (changed) bump();
  }, opts.ttlResolutionMs ?? 100);
  ttlTimer.unref();

  /** Waits until the global index moves past `after`, the wait elapses or the client leaves. */
  const waitForChange = (req: IncomingMessage, after: number, waitMs: number): Promise<void> =>
    new Promise((resolve) => {
      if (index > after) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(done);
        req.socket.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      waiters.add(done);
      req.socket.once('close', done);
    });

  const healthEntries = (dcName: string, dc: Datacenter, service: string): unknown[] =>
    [...dc.instances.values()]
      .filter((i) => i.registration.name === service)
      .map((i) => ({
        Node: { Node: `${dcName}-memory`, Address: '127.0.0.1', Datacenter: dcName },
        Service: {
          ID: i.registration.id,
          Service: i.registration.name,
          Tags: i.registration.tags,
          Address: i.registration.address,
          Port: i.registration.port,
          Meta: i.registration.meta,
        },
        Checks: [
          { CheckID: i.registration.check.id, Name: 'TTL', Status: i.status, ServiceID: i.registration.id },
        ],
      }));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://memory');
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    if (parts[0] !== 'v1') return send(res, 404, 'not found');
    if (parts[1] === 'datacenters' && method === 'GET') return send(res, 200, [...dcs.keys()].sort());
    const dcName = parts[2];
    if (parts[1] !== 'dc' || !dcName) return send(res, 404, 'not found');
    const resource = parts[3];
    const rest = parts.slice(4);

    if (method === 'PUT' && resource === 'service' && rest.length === 0) {
      const body = await readBody(req);
      let raw: unknown;
      try {
        raw = JSON.parse(body ?? '');
      } catch {
        return send(res, 400, 'body: invalid JSON');
      }
      const parsed = registrationSchema.safeParse(raw);
      if (!parsed.success) return send(res, 400, `body: ${parsed.error.message}`);
      const ttlMs = Number.parseFloat(parsed.data.check.ttl) * 1000;
      ensureDc(dcName).instances.set(parsed.data.id, {
        registration: parsed.data,
        status: 'passing',
        ttlMs,
        expiresAt: Date.now() + ttlMs,
      });
      bump();
      return send(res, 200, {});
    }
    if (method === 'PUT' && resource === 'kv' && rest.length > 0) {
      const body = await readBody(req);
      if (body === undefined) return send(res, 413, 'body too large');
      ensureDc(dcName).kv.set(rest.join('/'), body);
      bump();
      return send(res, 200, true);
    }

    const dc = dcs.get(dcName);
    if (!dc) return send(res, 404, `unknown datacenter ${dcName}`);

    if (method === 'DELETE' && resource === 'service' && rest.length === 1) {
      if (dc.instances.delete(rest[0] ?? '')) bump();
      return send(res, 200, {});
    }
    if (method === 'PUT' && resource === 'check' && rest.length === 2 && rest[1] === 'pass') {
      const inst = [...dc.instances.values()].find((i) => i.registration.check.id === rest[0]);
      if (!inst) return send(res, 404, `unknown check ${rest[0]}`);
      inst.expiresAt = Date.now() + inst.ttlMs;
      if (inst.status !== 'passing') {
        inst.status = 'passing';
        bump();
      }
      return send(res, 200, {});
    }
    if (method === 'GET' && resource === 'service-ids') return send(res, 200, [...dc.instances.keys()]);
    if (method === 'GET' && resource === 'kv' && rest.length > 0) {
      const value = dc.kv.get(rest.join('/'));
      return value === undefined ? send(res, 404, 'not found') : send(res, 200, value);
    }
    if (method === 'GET' && (resource === 'services' || (resource === 'health' && rest.length === 1))) {
      const after = Number(url.searchParams.get('index') ?? '0');
      if (Number.isFinite(after) && after > 0) {
        await waitForChange(req, after, parseWaitMs(url.searchParams.get('wait')));
      }
      if (resource === 'services') {
        const services: Record<string, string[]> = {};
        for (const inst of dc.instances.values()) {
          const tags = new Set([...(services[inst.registration.name] ?? []), ...inst.registration.tags]);
          services[inst.registration.name] = [...tags];
        }
        return send(res, 200, services, index);
      }
      return send(res, 200, healthEntries(dcName, dc, rest[0] ?? ''), index);
    }
    return send(res, 404, 'not found');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, String(e));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;

  return {
    url: `http://${urlHost}:${port}`,
    host: opts.host,
    port,
    close: async () => {
      clearInterval(ttlTimer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const wake of [...waiters]) wake();
      server.closeAllConnections();
      await closed;
    },
  };
}

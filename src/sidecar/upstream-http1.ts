import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type tls from 'node:tls';
import { errorMessage } from '../common/errors.ts';
import { fail, ok } from '../common/result.ts';
import { UpstreamError } from './errors.ts';
import type { UpstreamCall, UpstreamRequest } from './upstream-interface.ts';

/** Per-socket accounting for the cluster's connection limits (set only when a request carries them). */
interface SocketLimits {
  served: number;
  maxRequests?: number;
  idleTimeoutMs?: number;
}

/** TLS of an originating connection: the options, and the key that names its connection pool. */
export interface OriginationTarget {
  key: string;
  options: tls.ConnectionOptions;
}

/**
 * HTTP/1.1 upstream toward endpoints without `istio.tlsMode`: plaintext over one keep-alive agent
 * per data plane, or over TLS the sidecar originates (one keep-alive agent per origination key, so
 * connections verified against one cluster's roots and SANs serve only that material). A failure
 * before the connection was up (TCP connect, and the TLS handshake when originating: a bad
 * certificate is a connection failure, as in Envoy) maps to UF, after it to UR. When a request
 * carries `maxRequestsPerConnection`, its socket is closed instead of pooled once it has served
 * that many requests; with `idleTimeoutMs`, a pooled socket idle that long is closed.
 */
export class Http1Upstream {
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  readonly #tlsAgents = new Map<string, https.Agent>();
  readonly #limits = new WeakMap<net.Socket, SocketLimits>();
  readonly #secured = new WeakSet<net.Socket>();

  constructor() {
    this.#watch(this.#agent);
  }

  #tlsAgent(key: string): https.Agent {
    let agent = this.#tlsAgents.get(key);
    if (!agent) {
      agent = new https.Agent({ keepAlive: true, maxSockets: 256 });
      this.#watch(agent);
      this.#tlsAgents.set(key, agent);
    }
    return agent;
  }

  #watch(agent: http.Agent): void {
    // Runs after the agent's own 'free' listener has pooled the socket; destroying it unpools it.
    agent.on('free', (socket: net.Socket) => {
      const l = this.#limits.get(socket);
      if (!l) return;
      if (l.maxRequests !== undefined && l.served >= l.maxRequests) socket.destroy();
      else if (l.idleTimeoutMs !== undefined) socket.setTimeout(l.idleTimeoutMs, () => socket.destroy());
    });
  }

  request(target: { host: string; port: number }, req: UpstreamRequest, origination?: OriginationTarget): UpstreamCall {
    let connected = false;
    // Strict parsing of the upstream's response whatever the process flags.
    const common = { host: target.host, port: target.port, method: req.method, path: req.path, headers: req.headers, insecureHTTPParser: false };
    const upstream = origination
      ? https.request({ ...common, ...origination.options, agent: this.#tlsAgent(origination.key) })
      : http.request({ ...common, agent: this.#agent });
    const timer = setTimeout(() => {
      if (!connected) upstream.destroy(new UpstreamError('UF', `connect timeout after ${req.connectTimeoutMs} ms`));
    }, req.connectTimeoutMs);
    timer.unref();
    const limited = req.maxRequestsPerConnection !== undefined || req.idleTimeoutMs !== undefined;
    upstream.once('socket', (socket) => {
      if (limited) {
        const l = this.#limits.get(socket) ?? { served: 0 };
        l.served++;
        if (req.maxRequestsPerConnection !== undefined) l.maxRequests = req.maxRequestsPerConnection;
        if (req.idleTimeoutMs !== undefined) l.idleTimeoutMs = req.idleTimeoutMs;
        this.#limits.set(socket, l);
        socket.setTimeout(0);
      }
      const up = (): void => {
        connected = true;
        clearTimeout(timer);
      };
      if (origination) {
        if (this.#secured.has(socket)) up();
        else
          socket.once('secureConnect', () => {
            this.#secured.add(socket);
            up();
          });
      } else if (socket.connecting) socket.once('connect', up);
      else up();
    });
    const response = new Promise<Awaited<UpstreamCall['response']>>((resolve) => {
      upstream.once('response', (res) => {
        clearTimeout(timer);
        resolve(ok({ status: res.statusCode ?? 502, headers: res.headers, body: res, trailers: () => (res.complete && Object.keys(res.trailers).length > 0 ? res.trailers : undefined) }));
      });
      upstream.on('error', (e: unknown) => {
        clearTimeout(timer);
        const flag = connected ? 'UR' : 'UF';
        resolve(fail(new UpstreamError(flag, `upstream ${target.host}:${target.port}: ${errorMessage(e)}`, { cause: e })));
      });
      upstream.once('close', () => {
        resolve(fail(new UpstreamError(connected ? 'UR' : 'UF', `upstream ${target.host}:${target.port} closed`)));
      });
    });
    if (req.body) {
      req.body.pipe(upstream);
      req.body.once('error', () => upstream.destroy());
    } else {
      upstream.end();
    }
    return { response, abort: () => upstream.destroy() };
  }

  close(): void {
    this.#agent.destroy();
    for (const a of this.#tlsAgents.values()) a.destroy();
    this.#tlsAgents.clear();
  }
}

import http from 'node:http';
import type net from 'node:net';
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

/**
 * Plaintext HTTP/1.1 upstream (endpoints without `istio.tlsMode`), over one keep-alive agent per
 * data plane. A failure before the socket connected maps to UF, after it to UR. When a request
 * carries `maxRequestsPerConnection`, its socket is closed instead of pooled once it has served
 * that many requests; with `idleTimeoutMs`, a pooled socket idle that long is closed.
 */
export class Http1Upstream {
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  readonly #limits = new WeakMap<net.Socket, SocketLimits>();

  constructor() {
    // Runs after the agent's own 'free' listener has pooled the socket; destroying it unpools it.
    this.#agent.on('free', (socket: net.Socket) => {
      const l = this.#limits.get(socket);
      if (!l) return;
      if (l.maxRequests !== undefined && l.served >= l.maxRequests) socket.destroy();
      else if (l.idleTimeoutMs !== undefined) socket.setTimeout(l.idleTimeoutMs, () => socket.destroy());
    });
  }

  request(target: { host: string; port: number }, req: UpstreamRequest): UpstreamCall {
    let connected = false;
    const upstream = http.request({
      host: target.host,
      port: target.port,
      method: req.method,
      path: req.path,
      headers: req.headers,
      agent: this.#agent,
    });
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
      if (socket.connecting) socket.once('connect', up);
      else up();
    });
    const response = new Promise<Awaited<UpstreamCall['response']>>((resolve) => {
      upstream.once('response', (res) => {
        clearTimeout(timer);
        resolve(ok({ status: res.statusCode ?? 502, headers: res.headers, body: res }));
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
  }
}

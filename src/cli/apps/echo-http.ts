import http from 'node:http';
import type http2 from 'node:http2';
import { acceptH2c } from '../../sidecar/outbound-h2c.ts';
import { acceptWebSocket } from './echo-websocket.ts';

/** Who the echo app says it is; every field appears in each reply. */
export interface EchoIdentity {
  cluster: string;
  namespace: string;
  workload: string;
  service: string;
  version: string | null;
}

/** The JSON body of every echo reply. */
export interface EchoReply extends EchoIdentity {
  /** The caller's SPIFFE ID from the sidecar's x-forwarded-client-cert, or null without one. */
  peer: string | null;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

/** `URI=` of the last element of an XFCC header (the element the nearest proxy set). */
export function peerFromXfcc(xfcc: string | string[] | undefined): string | null {
  const value = Array.isArray(xfcc) ? xfcc[xfcc.length - 1] : xfcc;
  if (!value) return null;
  const last = value.split(',').at(-1) ?? '';
  for (const part of last.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === 'URI') return part.slice(eq + 1).trim().replace(/^"|"$/g, '') || null;
  }
  return null;
}

/**
 * The built-in `app: echo`: answers every request with JSON describing itself and the request.
 * `?status=NNN` sets the response status, so tests and demos can produce errors on purpose, and
 * `?delay=MS` (at most a minute) holds the reply back, like httpbin's `/delay`. An
 * `Upgrade: websocket` request switches to WebSocket echo (echo-websocket.ts). The same port also
 * answers prior-knowledge h2c (an `http2` service port's sidecar speaks HTTP/2 to its app). Stop it
 * with `closeEchoHttp`, which also ends the h2c sessions.
 */
export function startEchoHttp(identity: EchoIdentity, host: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => answer(identity, req, res));
  const sessions = new Set<http2.ServerHttp2Session>();
  h2cSessions.set(server, sessions);
  acceptH2c(server, (req, res) => answer(identity, req, res)).onSession((s) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket, head: Buffer) => acceptWebSocket(req, socket, head, identity));
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

const h2cSessions = new WeakMap<http.Server, Set<http2.ServerHttp2Session>>();

/** Closes an echo server from startEchoHttp: h2c sessions and idle connections now, then the listener. */
export function closeEchoHttp(server: http.Server): Promise<void> {
  for (const s of h2cSessions.get(server) ?? []) s.destroy();
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function answer(identity: EchoIdentity, req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void {
  req.resume();
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://echo');
    const status = Number(url.searchParams.get('status') ?? '200');
    const delay = Number(url.searchParams.get('delay') ?? '0');
    const reply: EchoReply = {
      ...identity,
      peer: peerFromXfcc(req.headers['x-forwarded-client-cert']),
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: req.headers,
    };
    const body = JSON.stringify(reply);
    const send = () => {
      if (res instanceof http.ServerResponse ? res.destroyed : res.stream.destroyed) return;
      res.writeHead(Number.isInteger(status) && status >= 200 && status <= 599 ? status : 200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    };
    if (Number.isFinite(delay) && delay > 0) setTimeout(send, Math.min(delay, 60_000));
    else send();
  });
}

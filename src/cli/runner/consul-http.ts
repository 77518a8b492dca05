/**
 * The runner's own calls to a Consul agent's HTTP API (start-up checks, WAN join, ACL bootstrap):
 * plain HTTP, or HTTPS verified against the mesh root, with an optional ACL token.
 */
import http from 'node:http';
import https from 'node:https';

/** Where one agent's API answers and how to talk to it. */
export interface ConsulEndpoint {
  address: string;
  /** The HTTP port, or the HTTPS port when `caPem` is set. */
  port: number;
  /** PEM roots that verify the agent's HTTPS certificate; absent for plain HTTP. */
  caPem?: string | undefined;
  /** Sent as `X-Consul-Token`. */
  token?: string | undefined;
}

/** One answer: the status and the body text. */
export interface ConsulAnswer {
  status: number;
  body: string;
}

/** One request; rejects only when nothing answers (connection refused, TLS failure, timeout). */
export function consulRequest(ep: ConsulEndpoint, method: string, path: string, body?: unknown): Promise<ConsulAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = {};
    if (ep.token) headers['x-consul-token'] = ep.token;
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const options = { host: ep.address, port: ep.port, method, path, timeout: 5000, agent: false, headers };
    const onResponse = (res: http.IncomingMessage): void => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    };
    const req = ep.caPem ? https.request({ ...options, ca: ep.caPem }, onResponse) : http.request(options, onResponse);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** True when the request answered 200 and `accept` takes its body; false on any failure. */
export async function consulOk(ep: ConsulEndpoint, method: string, path: string, accept: (body: string) => boolean = () => true): Promise<boolean> {
  try {
    const r = await consulRequest(ep, method, path);
    return r.status === 200 && accept(r.body);
  } catch {
    return false;
  }
}

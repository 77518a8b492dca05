import http from 'node:http';
import type { WorkloadState } from './runner/state-file.ts';

/** A request as `meshfed curl` takes it. */
export interface MeshRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}

export interface MeshResponse {
  status: number;
  statusMessage: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * Sends a request the way the workload's app would: plain HTTP/1.1 to its sidecar's outbound
 * listener (15001), with the URL's host as the Host header. Without a sidecar, it goes direct.
 */
export function sendFromWorkload(from: WorkloadState, req: MeshRequest, agent?: http.Agent): Promise<MeshResponse> {
  const url = new URL(req.url);
  if (url.protocol !== 'http:') return Promise.reject(new Error(`only http:// URLs are supported, got ${url.protocol}`));
  const [host, port] = from.sidecar
    ? splitHostPort(from.sidecar.outbound)
    : [url.hostname, Number(url.port || 80)];
  return new Promise((resolve, reject) => {
    const r = http.request(
      {
        host,
        port,
        method: req.method,
        path: `${url.pathname}${url.search}`,
        headers: { host: url.host, ...req.headers },
        agent: agent ?? false,
        timeout: req.timeoutMs ?? 15_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', headers: res.headers, body }),
        );
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error(`timed out after ${req.timeoutMs ?? 15_000} ms`)));
    r.on('error', reject);
    r.end(req.body);
  });
}

export function splitHostPort(value: string): [string, number] {
  const i = value.lastIndexOf(':');
  return [value.slice(0, i), Number(value.slice(i + 1))];
}

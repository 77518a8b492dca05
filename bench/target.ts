import http from 'node:http';
import { sleep } from './children.ts';

/** A process whose CPU and memory the benchmark reports. */
export interface WatchedProcess {
  name: string;
  pid: number;
  /** proxy: counted against the goals; other: reported for context (backend, control plane). */
  kind: 'sidecar' | 'gateway' | 'nginx' | 'app' | 'control-plane' | 'other';
}

/** One way of reaching the backend: where the load generator connects and what it measures. */
export interface PathTarget {
  id: 'direct' | 'nginx' | 'sidecars' | 'cross-cluster';
  title: string;
  /** What the client connects to. */
  url: string;
  /** Host header to send, when it differs from the URL's authority (mesh outbound routing). */
  host?: string;
  /** Processes to watch, resolved just before the measurement (nginx workers appear late). */
  processes(): WatchedProcess[];
}

export function isProxy(p: WatchedProcess): boolean {
  return p.kind === 'sidecar' || p.kind === 'gateway' || p.kind === 'nginx';
}

/** One GET through the target: status and a short body excerpt, or the error. */
export function probe(target: PathTarget): Promise<{ status?: number; body?: string; error?: string }> {
  const url = new URL(target.url);
  return new Promise((resolve) => {
    const req = http.get(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        agent: false,
        timeout: 2000,
        headers: target.host ? { host: target.host } : {},
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (body.length < 400) body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode, body: body.slice(0, 400) }));
        res.on('error', (e) => resolve({ error: e.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out after 2 s')));
    req.on('error', (e) => resolve({ error: e.message }));
  });
}

/**
 * Sends requests until `needed` 200s in a row come back (a cross-cluster route appears only after
 * federation has imported the service), or rejects after `timeoutMs` with the last answer seen.
 */
export async function waitUntilServing(target: PathTarget, timeoutMs: number, needed = 5): Promise<number> {
  const start = Date.now();
  let streak = 0;
  let last = 'no answer yet';
  for (;;) {
    const r = await probe(target);
    if (r.status === 200) {
      streak++;
      if (streak >= needed) return Date.now() - start;
      continue;
    }
    streak = 0;
    last = r.error ?? `HTTP ${r.status}: ${r.body ?? ''}`;
    if (Date.now() - start > timeoutMs) {
      throw new Error(
        `${target.title}: no 200 from ${target.url}${target.host ? ` (Host ${target.host})` : ''} within ${timeoutMs} ms; last answer: ${last}`,
      );
    }
    await sleep(250);
  }
}

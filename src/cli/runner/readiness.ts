import http from 'node:http';
import net from 'node:net';

/** GET `url`; resolves with the status code, or undefined when nothing answers. */
export function httpStatus(url: string, timeoutMs = 1000): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/**
 * GET `url`; resolves with the status code and the body (up to `maxBytes`, the rest dropped), or
 * undefined when nothing answers in time.
 */
export function httpText(url: string, timeoutMs = 1000, maxBytes = 64 * 1024): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size >= maxBytes) return;
        chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).subarray(0, maxBytes).toString() }));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

export function tcpOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: timeoutMs });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Polls `check` until it returns true. Rejects after `timeoutMs` with `what` in the message (and
 * what `pending()` says is still missing, if anything), or as soon as `failed()` returns a reason
 * (e.g. the process being waited for has exited).
 */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  opts: { timeoutMs?: number; intervalMs?: number; failed?: () => string | undefined; pending?: () => string | undefined } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    const reason = opts.failed?.();
    if (reason) throw new Error(`${what}: ${reason}`);
    if (await check()) return;
    if (Date.now() > deadline) {
      const pending = opts.pending?.();
      throw new Error(`${what}: not ready after ${opts.timeoutMs ?? 30_000} ms${pending === undefined ? '' : ` (${pending})`}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 150));
  }
}

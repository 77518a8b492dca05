/**
 * The comma lists of traffic capture, shared by the injector (Istio's `traffic.sidecar.istio.io/*`
 * annotations, src/webhooks/inject-capture.ts) and `meshfed capture-init` (its flags,
 * src/sidecar/capture/capture-rules.ts), so both accept and word the same things: ports 1..65535
 * and IPv4/IPv6 CIDRs, blanks ignored, and with `star` a lone `*` for "all". Messages name the
 * offending item; callers prefix them with the annotation or flag.
 */
import { isIP } from 'node:net';
import { fail, ok, type Result } from './result.ts';

/** The non-blank, trimmed items of a comma list. */
export function splitCaptureList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

const starNote = (star: boolean): string => (star ? " (or '*' alone)" : '');

/** A list of ports (each once, in order), `'*'` when `star` allows it, or what is wrong. */
export function parsePortList(text: string, star: boolean): Result<'*' | number[], string> {
  const list = splitCaptureList(text);
  if (star && list.length === 1 && list[0] === '*') return ok('*');
  const out: number[] = [];
  for (const item of list) {
    const n = Number(item);
    if (!/^\d+$/.test(item) || n < 1 || n > 65535) return fail(`${JSON.stringify(item)} is not a port 1..65535${starNote(star)}`);
    if (!out.includes(n)) out.push(n);
  }
  return ok(out);
}

/** A list of CIDRs, `'*'` when `star` allows it, or what is wrong. */
export function parseCidrList(text: string, star: boolean): Result<'*' | string[], string> {
  const list = splitCaptureList(text);
  if (star && list.length === 1 && list[0] === '*') return ok('*');
  for (const item of list) {
    const [address = '', prefix, extra] = item.split('/');
    const family = isIP(address);
    const bits = Number(prefix);
    if (family === 0 || extra !== undefined || prefix === undefined || !/^\d+$/.test(prefix) || bits > (family === 6 ? 128 : 32)) {
      return fail(`${JSON.stringify(item)} is not a CIDR such as 10.0.0.0/8${starNote(star)}`);
    }
  }
  return ok(list);
}

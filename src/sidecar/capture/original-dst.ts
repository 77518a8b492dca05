import { createRequire } from 'node:module';
import type net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../../common/errors.ts';
import { fail, ok, type Result } from '../../common/result.ts';

/** Where a captured connection was going before iptables REDIRECT sent it to the sidecar. */
export interface OriginalDestination {
  readonly address: string;
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
}

/** Reads the original destination of a socket accepted on a capture port. */
export type OriginalDstReader = (socket: net.Socket) => Result<OriginalDestination, string>;

interface Addon {
  originalDst(fd: number): unknown;
}

/** `src/sidecar/capture/` and `dist/sidecar/capture/` are both three levels below the package root. */
const ADDON_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'native', 'original-dst', 'build', 'Release', 'original_dst.node');

let loaded: Result<Addon, string> | undefined;

function loadAddon(): Result<Addon, string> {
  if (loaded) return loaded;
  try {
    const mod: unknown = createRequire(import.meta.url)(ADDON_PATH);
    if (typeof mod === 'object' && mod !== null && 'originalDst' in mod && typeof mod.originalDst === 'function') {
      const fn = mod.originalDst as (fd: number) => unknown;
      loaded = ok({ originalDst: (fd) => fn(fd) });
    } else {
      loaded = fail(`${ADDON_PATH} does not export originalDst`);
    }
  } catch (e: unknown) {
    // Node's own message carries a multi-line require stack: its first line says enough.
    loaded = fail(`the SO_ORIGINAL_DST addon is not available (${errorMessage(e).split('\n')[0]}); build it with \`npm run build:native\` (needs Linux, python3, make and a C compiler)`);
  }
  return loaded;
}

/** The file descriptor under a net.Socket (libuv's handle, which Node does not type). */
function socketFd(socket: net.Socket): number | undefined {
  const handle: unknown = (socket as unknown as { _handle?: unknown })._handle;
  if (typeof handle !== 'object' || handle === null || !('fd' in handle)) return undefined;
  return typeof handle.fd === 'number' && handle.fd >= 0 ? handle.fd : undefined;
}

/**
 * The reader of original destinations, or why there is none (the addon did not build or does not
 * load on this platform). Loaded once; callers check this at start-up so that capture mode fails
 * clearly instead of on the first connection.
 */
export function originalDstReader(): Result<OriginalDstReader, string> {
  const addon = loadAddon();
  if (!addon.ok) return addon;
  const read: OriginalDstReader = (socket) => {
    const fd = socketFd(socket);
    if (fd === undefined) return fail('the socket has no file descriptor');
    let raw: unknown;
    try {
      raw = addon.value.originalDst(fd);
    } catch (e: unknown) {
      const code = typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : '';
      return fail(`${code ? `${code}: ` : ''}${errorMessage(e)}`);
    }
    if (typeof raw !== 'object' || raw === null) return fail('originalDst returned no object');
    const r = raw as { address?: unknown; port?: unknown; family?: unknown };
    if (typeof r.address !== 'string' || typeof r.port !== 'number' || (r.family !== 'IPv4' && r.family !== 'IPv6')) return fail('originalDst returned a malformed address');
    return ok({ address: r.address, port: r.port, family: r.family });
  };
  return ok(read);
}

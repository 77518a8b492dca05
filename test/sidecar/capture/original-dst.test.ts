import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { canUseNetns } from '../../../src/cli/runner/netns.ts';
import { originalDstReader } from '../../../src/sidecar/capture/index.ts';

/**
 * The SO_ORIGINAL_DST addon (native/original-dst) through meshfed's reader. On Linux it must load
 * (CI builds it; `npm run build:native` otherwise). The REDIRECT case needs root: a network
 * namespace of its own (198.18.137.0/24 on a dummy link, never on the host) with one iptables
 * rule; without root it is skipped by name unless MESHFED_REQUIRE_NETNS=1. Binds nothing on the host.
 */
const run = promisify(execFile);
const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'original-dst-child.ts');
const NS = 'meshfed-cap-odst';
const netns = await canUseNetns();
const required = process.env['MESHFED_REQUIRE_NETNS'] === '1';

test('the addon loads, and a socket without a file descriptor is an error, not a crash', (t) => {
  const reader = originalDstReader();
  if (!reader.ok) return t.fail(reader.errors);
  const r = reader.value(new net.Socket());
  t.false(r.ok);
  if (!r.ok) t.regex(r.errors, /no file descriptor/);
});

const TITLE = 'a REDIRECTed connection reports where it was going; a direct one reports the listener itself';
if (!netns.ok && !required) {
  test.skip(`${TITLE} — skipped: ${netns.reason} (set MESHFED_REQUIRE_NETNS=1 to make this a failure)`, () => {});
} else {
  test.serial(TITLE, async (t) => {
    if (!netns.ok) return t.fail(`MESHFED_REQUIRE_NETNS=1 but ${netns.reason}`);
    await run('ip', ['netns', 'del', NS]).catch(() => undefined);
    t.teardown(() => run('ip', ['netns', 'del', NS]).catch(() => undefined));
    await run('ip', ['netns', 'add', NS]);
    const inNs = (cmd: string[]): Promise<{ stdout: string }> => run('ip', ['netns', 'exec', NS, ...cmd], { timeout: 20_000, cwd: path.resolve(path.dirname(CHILD), '..', '..', '..') });
    await inNs(['ip', 'link', 'set', 'lo', 'up']);
    // A veth pair kept inside the namespace: a route for the address the client dials.
    await inNs(['ip', 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
    await inNs(['ip', 'addr', 'add', '198.18.137.1/24', 'dev', 'v0']);
    await inNs(['ip', 'link', 'set', 'v0', 'up']);
    await inNs(['ip', 'link', 'set', 'v1', 'up']);
    await inNs(['iptables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', '198.18.137.99', '--dport', '80', '-j', 'REDIRECT', '--to-ports', '15001']);

    const child = async (host: string, port: number): Promise<unknown> => {
      const { stdout } = await inNs([process.execPath, '--import', 'tsx', CHILD, '15001', host, String(port)]);
      return JSON.parse(stdout.trim()) as unknown;
    };
    t.deepEqual(await child('198.18.137.99', 80), { ok: true, value: { address: '198.18.137.99', port: 80, family: 'IPv4' } });
    t.deepEqual(await child('127.0.0.1', 15001), { ok: true, value: { address: '127.0.0.1', port: 15001, family: 'IPv4' } });
  });
}

import test from 'ava';
import { captureRules, parseCaptureFlags, type CaptureFlag } from '../../src/sidecar/capture/index.ts';
import { captureInitArgs } from '../../src/webhooks/index.ts';
import { meshfed } from '../support/cli.ts';

/**
 * The compiled `meshfed capture-init` as the init container runs it, with `--dry-run` (changes
 * nothing, needs no root): it prints exactly the rules of the webhook's arguments, and a bad flag
 * ends it non-zero naming the flag. Binds nothing.
 */
function webhookArgs(annotations: Record<string, string> = {}): string[] {
  const r = captureInitArgs(annotations, [9080]);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.value;
}

test("--dry-run prints the rules of the webhook's command line", async (t) => {
  const args = webhookArgs({ 'traffic.sidecar.istio.io/excludeOutboundIPRanges': '169.254.169.254/32' });
  const r = await meshfed([...args, '--dry-run']);
  t.is(r.code, 0, r.stderr);
  const flags: Partial<Record<CaptureFlag, string>> = {};
  for (let i = 1; i < args.length; i += 2) flags[args[i] as CaptureFlag] = args[i + 1] ?? '';
  const o = parseCaptureFlags(flags);
  if (!o.ok) return t.fail(o.errors.join('; '));
  t.is(r.stdout, `# iptables-restore --noflush\n${captureRules(o.value).v4}`);
});

test('--dry-run with an IPv6 range prints the ip6tables rules too', async (t) => {
  const r = await meshfed([...webhookArgs({ 'traffic.sidecar.istio.io/includeOutboundIPRanges': '10.0.0.0/8,fd00::/8' }), '--dry-run']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /# ip6tables-restore --noflush\n\*nat\n/);
  t.regex(r.stdout, /-A MESHFED_OUTPUT -d fd00::\/8 -j MESHFED_REDIRECT/);
});

test('a malformed flag ends capture-init non-zero, naming the flag, before touching iptables', async (t) => {
  const args = webhookArgs();
  args[args.indexOf('--exclude-outbound-ports') + 1] = 'postgres';
  const r = await meshfed(args);
  t.not(r.code, 0);
  t.regex(r.stderr, /meshfed capture-init: --exclude-outbound-ports: "postgres" is not a port 1\.\.65535/);
});

test('a missing flag is refused by name', async (t) => {
  const args = webhookArgs();
  const at = args.indexOf('--exclude-outbound-ip-ranges');
  const r = await meshfed([...args.slice(0, at), '--dry-run']);
  t.not(r.code, 0);
  t.regex(r.stderr, /--exclude-outbound-ip-ranges/);
});

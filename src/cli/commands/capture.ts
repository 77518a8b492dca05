import type { Command } from 'commander';
import { exitWith } from './lifecycle.ts';

/** What each of the init container's flags means (the order of CAPTURE_FLAGS). */
const FLAG_HELP: readonly (readonly [flag: string, help: string])[] = [
  ['--proxy-uid', "the proxy's uid: its own traffic is not captured"],
  ['--proxy-gid', "the proxy's gid: its own traffic is not captured"],
  ['--outbound-capture-port', 'where outbound TCP is redirected (15001)'],
  ['--inbound-capture-port', 'where inbound TCP is redirected (15006)'],
  ['--include-inbound-ports', "inbound ports to capture, comma-separated, or '*' (empty: none)"],
  ['--exclude-inbound-ports', 'inbound ports never captured (may be empty)'],
  ['--exclude-outbound-ports', 'outbound destination ports never captured (may be empty)'],
  ['--include-outbound-ip-ranges', "outbound CIDRs to capture, or '*' (empty: none)"],
  ['--exclude-outbound-ip-ranges', 'outbound CIDRs never captured (may be empty)'],
];

/** commander's key of a flag (`--proxy-uid` → `proxyUid`). */
function optionKey(flag: string): string {
  return flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * `meshfed capture-init`: the injected init container (root, NET_ADMIN, NET_RAW). Installs the
 * transparent-capture iptables rules in the pod's network namespace and exits; `--dry-run` prints
 * them (iptables-restore input) and changes nothing. The flags are the webhook's contract
 * (src/webhooks/inject-capture.ts `captureInitArgs`): every one required, an empty value is "none".
 */
export function registerCaptureCommand(program: Command): void {
  const cmd = program
    .command('capture-init')
    .description("install transparent capture as Istio's istio-init does (iptables REDIRECT): outbound TCP to the proxy's outbound port, inbound to its inbound port");
  for (const [flag, help] of FLAG_HELP) cmd.requiredOption(`${flag} <value>`, help);
  cmd.option('--dry-run', 'print the rules (iptables-restore input) and change nothing').action(async (o: Record<string, string | boolean | undefined>) => {
    const { CAPTURE_FLAGS, applyCaptureRules, captureRules, parseCaptureFlags } = await import('../../sidecar/capture/index.ts');
    const flags: Partial<Record<(typeof CAPTURE_FLAGS)[number], string>> = {};
    for (const flag of CAPTURE_FLAGS) {
      const v = o[optionKey(flag)];
      if (typeof v === 'string') flags[flag] = v;
    }
    const parsed = parseCaptureFlags(flags);
    if (!parsed.ok) return exitWith(`meshfed capture-init: ${parsed.errors.join('; ')}`);
    const rules = captureRules(parsed.value);
    if (o['dryRun'] === true) {
      process.stdout.write(`# iptables-restore --noflush\n${rules.v4}`);
      if (rules.v6 !== undefined) process.stdout.write(`# ip6tables-restore --noflush\n${rules.v6}`);
      return;
    }
    const applied = await applyCaptureRules(rules);
    if (!applied.ok) return exitWith(`meshfed capture-init: ${applied.errors}`);
    process.stdout.write(`meshfed capture-init: capture installed (outbound to ${parsed.value.outboundCapturePort}, inbound to ${parsed.value.inboundCapturePort})\n`);
  });
}

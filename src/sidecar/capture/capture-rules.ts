import { parseCidrList, parsePortList } from '../../common/capture-lists.ts';
import { fail, ok, type Result } from '../../common/result.ts';

/**
 * Transparent capture as Istio's istio-iptables writes it (REDIRECT mode), as a pure function from
 * validated options to iptables-restore input. `meshfed capture-init` (the injected init
 * container) applies the text with `iptables-restore --noflush` (and `ip6tables-restore` when an
 * IPv6 range is given); `--dry-run` prints it.
 */

/** The nat chains meshfed installs (Istio's ISTIO_INBOUND, ISTIO_IN_REDIRECT, ISTIO_OUTPUT, ISTIO_REDIRECT). */
export const CAPTURE_CHAINS = {
  inbound: 'MESHFED_INBOUND',
  inRedirect: 'MESHFED_IN_REDIRECT',
  output: 'MESHFED_OUTPUT',
  redirect: 'MESHFED_REDIRECT',
} as const;

/**
 * The source address of the sidecar's inbound hops to its app (Istio's 127.0.0.6, "inbound
 * passthrough"): traffic from it over `lo` is never captured again. IPv6: `::6`.
 */
export const INBOUND_PASSTHROUGH_SOURCE = { v4: '127.0.0.6', v6: '::6' } as const;

/** Options of the rules, validated (parseCaptureFlags), in the order of the init container's flags. */
export interface CaptureOptions {
  /** The proxy's uid and gid: its own connections are never captured (except to its own pod over lo). */
  readonly proxyUid: number;
  readonly proxyGid: number;
  /** Where outbound TCP goes (Istio 15001) and where inbound TCP goes (15006). */
  readonly outboundCapturePort: number;
  readonly inboundCapturePort: number;
  /** Inbound ports sent to the inbound capture port: `'*'` every port, or these (empty: no inbound capture). */
  readonly includeInboundPorts: '*' | readonly number[];
  /** Inbound ports never captured (applies to `'*'`, and is subtracted from a list). */
  readonly excludeInboundPorts: readonly number[];
  /** Outbound destination ports never captured. */
  readonly excludeOutboundPorts: readonly number[];
  /** Outbound destinations captured: `'*'` all, or these CIDRs (empty: no outbound capture). */
  readonly includeOutboundIpRanges: '*' | readonly string[];
  /** Outbound destinations never captured, checked before the included ones. */
  readonly excludeOutboundIpRanges: readonly string[];
}

/** The iptables-restore input per family; `v6` only when an IPv6 range is given. */
export interface CaptureRules {
  readonly v4: string;
  readonly v6?: string;
}

/** The init container's flags, in the webhook's order (inject-capture.ts `captureInitArgs`). */
export const CAPTURE_FLAGS = [
  '--proxy-uid',
  '--proxy-gid',
  '--outbound-capture-port',
  '--inbound-capture-port',
  '--include-inbound-ports',
  '--exclude-inbound-ports',
  '--exclude-outbound-ports',
  '--include-outbound-ip-ranges',
  '--exclude-outbound-ip-ranges',
] as const;
export type CaptureFlag = (typeof CAPTURE_FLAGS)[number];

function port(flag: string, text: string): Result<number, string> {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) return fail(`${flag}: ${JSON.stringify(text)} is not a port 1..65535`);
  return ok(n);
}

function ports(flag: string, text: string, star: boolean): Result<'*' | number[], string> {
  const r = parsePortList(text, star);
  return r.ok ? r : fail(`${flag}: ${r.errors}`);
}

function cidrs(flag: string, text: string, star: boolean): Result<'*' | string[], string> {
  const r = parseCidrList(text, star);
  return r.ok ? r : fail(`${flag}: ${r.errors}`);
}

function id(flag: string, text: string): Result<number, string> {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 4_294_967_294) return fail(`${flag}: ${JSON.stringify(text)} is not a numeric uid/gid`);
  return ok(n);
}

/**
 * Validates the init container's flags (every one of CAPTURE_FLAGS is required; an empty value
 * means "none"). Errors name the flag. Returns frozen options.
 */
export function parseCaptureFlags(flags: Readonly<Partial<Record<CaptureFlag, string>>>): Result<CaptureOptions, string[]> {
  const errors: string[] = [];
  const take = <T>(flag: CaptureFlag, parse: (flag: string, text: string) => Result<T, string>): T | undefined => {
    const text = flags[flag];
    if (text === undefined) {
      errors.push(`${flag}: required`);
      return undefined;
    }
    const r = parse(flag, text.trim());
    if (r.ok) return r.value;
    errors.push(r.errors);
    return undefined;
  };
  const proxyUid = take('--proxy-uid', id);
  const proxyGid = take('--proxy-gid', id);
  const outboundCapturePort = take('--outbound-capture-port', port);
  const inboundCapturePort = take('--inbound-capture-port', port);
  const includeInboundPorts = take('--include-inbound-ports', (f, t) => ports(f, t, true));
  const excludeInboundPorts = take('--exclude-inbound-ports', (f, t) => ports(f, t, false));
  const excludeOutboundPorts = take('--exclude-outbound-ports', (f, t) => ports(f, t, false));
  const includeOutboundIpRanges = take('--include-outbound-ip-ranges', (f, t) => cidrs(f, t, true));
  const excludeOutboundIpRanges = take('--exclude-outbound-ip-ranges', (f, t) => cidrs(f, t, false));
  if (
    errors.length > 0 ||
    proxyUid === undefined ||
    proxyGid === undefined ||
    outboundCapturePort === undefined ||
    inboundCapturePort === undefined ||
    includeInboundPorts === undefined ||
    excludeInboundPorts === undefined ||
    excludeOutboundPorts === undefined ||
    includeOutboundIpRanges === undefined ||
    excludeOutboundIpRanges === undefined
  ) {
    return fail(errors);
  }
  if (outboundCapturePort === inboundCapturePort) return fail(['--inbound-capture-port: must differ from --outbound-capture-port']);
  return ok(
    Object.freeze({
      proxyUid,
      proxyGid,
      outboundCapturePort,
      inboundCapturePort,
      includeInboundPorts: includeInboundPorts === '*' ? '*' : Object.freeze(includeInboundPorts),
      excludeInboundPorts: Object.freeze(excludeInboundPorts === '*' ? [] : excludeInboundPorts),
      excludeOutboundPorts: Object.freeze(excludeOutboundPorts === '*' ? [] : excludeOutboundPorts),
      includeOutboundIpRanges: includeOutboundIpRanges === '*' ? '*' : Object.freeze(includeOutboundIpRanges),
      excludeOutboundIpRanges: Object.freeze(excludeOutboundIpRanges === '*' ? [] : excludeOutboundIpRanges),
    }),
  );
}

const isV6 = (cidr: string): boolean => cidr.includes(':');

/** The nat table for one family (`ranges` already narrowed to it). */
function natTable(o: CaptureOptions, family: 4 | 6): string {
  const C = CAPTURE_CHAINS;
  const localhost = family === 4 ? '127.0.0.1/32' : '::1/128';
  const passthrough = family === 4 ? `${INBOUND_PASSTHROUGH_SOURCE.v4}/32` : `${INBOUND_PASSTHROUGH_SOURCE.v6}/128`;
  const ofFamily = (cidr: string): boolean => isV6(cidr) === (family === 6);
  const include = o.includeOutboundIpRanges === '*' ? '*' : o.includeOutboundIpRanges.filter(ofFamily);
  const exclude = o.excludeOutboundIpRanges.filter(ofFamily);
  const lines = ['*nat', `:${C.inbound} - [0:0]`, `:${C.inRedirect} - [0:0]`, `:${C.output} - [0:0]`, `:${C.redirect} - [0:0]`];
  lines.push(`-A ${C.redirect} -p tcp -j REDIRECT --to-ports ${o.outboundCapturePort}`);
  lines.push(`-A ${C.inRedirect} -p tcp -j REDIRECT --to-ports ${o.inboundCapturePort}`);

  // Inbound: every port but the excluded ones, or the listed ports minus the excluded ones.
  const inboundPorts = o.includeInboundPorts === '*' ? '*' : o.includeInboundPorts.filter((p) => !o.excludeInboundPorts.includes(p));
  if (inboundPorts === '*' || inboundPorts.length > 0) {
    lines.push(`-A PREROUTING -p tcp -j ${C.inbound}`);
    if (inboundPorts === '*') {
      for (const p of o.excludeInboundPorts) lines.push(`-A ${C.inbound} -p tcp --dport ${p} -j RETURN`);
      lines.push(`-A ${C.inbound} -p tcp -j ${C.inRedirect}`);
    } else {
      for (const p of inboundPorts) lines.push(`-A ${C.inbound} -p tcp --dport ${p} -j ${C.inRedirect}`);
    }
  }

  // Outbound: nothing to capture when no range of this family is included.
  if (include === '*' || include.length > 0) {
    lines.push(`-A OUTPUT -p tcp -j ${C.output}`);
    for (const p of o.excludeOutboundPorts) lines.push(`-A ${C.output} -p tcp --dport ${p} -j RETURN`);
    // The sidecar's inbound hops to its app come from the passthrough source: never captured.
    lines.push(`-A ${C.output} -s ${passthrough} -o lo -j RETURN`);
    for (const [match, owner] of [
      ['--uid-owner', o.proxyUid],
      ['--gid-owner', o.proxyGid],
    ] as const) {
      // The proxy calling its own pod (own service VIP resolved to itself) goes through inbound.
      lines.push(`-A ${C.output} ! -d ${localhost} -o lo -m owner ${match} ${owner} -j ${C.inRedirect}`);
      // The app talking to itself over lo is left alone.
      lines.push(`-A ${C.output} -o lo -m owner ! ${match} ${owner} -j RETURN`);
      // Everything else the proxy sends is its own upstream traffic.
      lines.push(`-A ${C.output} -m owner ${match} ${owner} -j RETURN`);
    }
    lines.push(`-A ${C.output} -d ${localhost} -j RETURN`);
    for (const cidr of exclude) lines.push(`-A ${C.output} -d ${cidr} -j RETURN`);
    if (include === '*') lines.push(`-A ${C.output} -j ${C.redirect}`);
    else for (const cidr of include) lines.push(`-A ${C.output} -d ${cidr} -j ${C.redirect}`);
  }
  lines.push('COMMIT');
  return `${lines.join('\n')}\n`;
}

/**
 * The iptables-restore input of the capture rules, for `iptables-restore --noflush` (only
 * meshfed's chains are declared, so only they are flushed). IPv6 rules exist only when an
 * included or excluded range is IPv6; then `'*'` captures both families.
 */
export function captureRules(o: CaptureOptions): CaptureRules {
  const ranges = [...(o.includeOutboundIpRanges === '*' ? [] : o.includeOutboundIpRanges), ...o.excludeOutboundIpRanges];
  const v4 = natTable(o, 4);
  return ranges.some(isV6) ? { v4, v6: natTable(o, 6) } : { v4 };
}

import { parseCidrList, parsePortList, splitCaptureList } from '../common/capture-lists.ts';
import { fail, ok, type Result } from '../common/result.ts';

/** The proxy's uid and gid: capture leaves its own traffic alone (Istio's 1337). */
export const PROXY_UID = 1337;
export const OUTBOUND_CAPTURE_PORT = 15001;
export const INBOUND_CAPTURE_PORT = 15006;
/** Inbound ports never captured: the proxy's status, health and metrics ports (as Istio). */
export const ALWAYS_EXCLUDED_INBOUND = [15020, 15021, 15090] as const;

export const CAPTURE_ANNOTATIONS = {
  includeInboundPorts: 'traffic.sidecar.istio.io/includeInboundPorts',
  excludeInboundPorts: 'traffic.sidecar.istio.io/excludeInboundPorts',
  excludeOutboundPorts: 'traffic.sidecar.istio.io/excludeOutboundPorts',
  includeOutboundIPRanges: 'traffic.sidecar.istio.io/includeOutboundIPRanges',
  excludeOutboundIPRanges: 'traffic.sidecar.istio.io/excludeOutboundIPRanges',
} as const;

const annotationPath = (key: string): string => `metadata.annotations["${key}"]`;

const joined = (r: Result<'*' | readonly (number | string)[], string>): Result<string, string> => (r.ok ? ok(r.value === '*' ? '*' : r.value.join(',')) : r);
const portList = (text: string, star: boolean): Result<string, string> => joined(parsePortList(text, star));
const cidrList = (text: string, star: boolean): Result<string, string> => joined(parseCidrList(text, star));

/**
 * The arguments of `meshfed capture-init`, the init container's command, from Istio's pod
 * annotations (a contract with that command: these flags, always all of them, in this order):
 * - includeInboundPorts: default the pod's container ports, or `*` when it declares none;
 * - excludeInboundPorts: always 15020, 15021, 15090, then the annotation's;
 * - excludeOutboundPorts: default none;
 * - includeOutboundIPRanges: default `*`;
 * - excludeOutboundIPRanges: default none.
 * A malformed annotation is an error naming it.
 */
export function captureInitArgs(annotations: Readonly<Record<string, string>>, containerPorts: readonly number[]): Result<string[], string[]> {
  const errors: string[] = [];
  const read = (key: string, fallback: string, parse: (t: string) => Result<string, string>): string => {
    const text = annotations[key];
    const r = parse(text ?? fallback);
    if (r.ok) return r.value;
    errors.push(`${annotationPath(key)}: ${r.errors}`);
    return '';
  };
  const A = CAPTURE_ANNOTATIONS;
  const defaultInbound = containerPorts.length > 0 ? [...new Set(containerPorts)].join(',') : '*';
  const includeInbound = read(A.includeInboundPorts, defaultInbound, (t) => portList(t, true));
  const excludeInboundExtra = read(A.excludeInboundPorts, '', (t) => portList(t, false));
  const excludeOutbound = read(A.excludeOutboundPorts, '', (t) => portList(t, false));
  const includeRanges = read(A.includeOutboundIPRanges, '*', (t) => cidrList(t, true));
  const excludeRanges = read(A.excludeOutboundIPRanges, '', (t) => cidrList(t, false));
  if (errors.length > 0) return fail(errors);
  const excludeInbound = [...new Set([...ALWAYS_EXCLUDED_INBOUND.map(String), ...splitCaptureList(excludeInboundExtra)])].join(',');
  return ok([
    'capture-init',
    '--proxy-uid', String(PROXY_UID),
    '--proxy-gid', String(PROXY_UID),
    '--outbound-capture-port', String(OUTBOUND_CAPTURE_PORT),
    '--inbound-capture-port', String(INBOUND_CAPTURE_PORT),
    '--include-inbound-ports', includeInbound,
    '--exclude-inbound-ports', excludeInbound,
    '--exclude-outbound-ports', excludeOutbound,
    '--include-outbound-ip-ranges', includeRanges,
    '--exclude-outbound-ip-ranges', excludeRanges,
  ]);
}

/**
 * The protocol of a service port, and how it is chosen, the way Istio chooses it
 * (istio.io "Protocol Selection"): an explicit protocol, else Kubernetes' `appProtocol`, else the
 * port name's prefix (`<protocol>[-<suffix>]`), else the default.
 *
 * Shared plain data: the topology file, the file registry, ServiceEntry parsing, federation and
 * Pilot's model all carry a port's protocol as a `ServiceProtocol`, a closed union. Names Istio
 * knows that meshfed proxies the same way are mapped onto it (`https` → `tls`; `mongo`, `redis`
 * and `mysql` → `tcp`, as Istio does while their protocol filters are off, its default); names
 * meshfed cannot honour (`udp`, `http_proxy`) are rejected.
 */

/** Protocols of the model. HTTP family: http, http2, grpc, grpc-web. Opaque bytes: tcp, tls. */
export const SERVICE_PROTOCOLS = ['http', 'http2', 'grpc', 'grpc-web', 'tcp', 'tls'] as const;
export type ServiceProtocol = (typeof SERVICE_PROTOCOLS)[number];

/** Where the chosen protocol came from (for `meshfed` diagnostics and tests). */
export type ProtocolSource = 'protocol' | 'appProtocol' | 'portName' | 'default';

/**
 * The protocol of a port that names none (no protocol, no appProtocol, no recognised name
 * prefix). Istio sniffs such ports (HTTP/1.1 and h2c are detected, anything else is TCP);
 * meshfed does not sniff on outbound, and takes HTTP/1.1, the answer sniffing gives an HTTP
 * client. Raw TCP needs a `tcp-` name, `appProtocol: tcp` or `protocol: tcp`.
 */
export const DEFAULT_SERVICE_PROTOCOL: ServiceProtocol = 'http';

/** Whether a port carries HTTP requests (routed by RDS) rather than opaque bytes (tcp_proxy). */
export function isHttpProtocol(p: ServiceProtocol): boolean {
  return p !== 'tcp' && p !== 'tls';
}

/** Istio's protocol names (case-insensitive) that meshfed honours, and what each becomes. */
const ISTIO_NAMES: Readonly<Record<string, ServiceProtocol>> = {
  http: 'http',
  http2: 'http2',
  grpc: 'grpc',
  'grpc-web': 'grpc-web',
  tcp: 'tcp',
  tls: 'tls',
  https: 'tls',
  mongo: 'tcp',
  redis: 'tcp',
  mysql: 'tcp',
};

/** Istio protocol names meshfed cannot honour, with the reason. */
const REFUSED: Readonly<Record<string, string>> = {
  udp: 'UDP is not proxied (Istio does not proxy it either)',
  http_proxy: 'HTTP_PROXY (forward-proxy CONNECT) ports are not supported',
};

/** Kubernetes' standard `appProtocol` values (KEP-3726), read only from appProtocol, as Istio does. */
const KUBERNETES_APP_PROTOCOLS: Readonly<Record<string, ServiceProtocol>> = {
  'kubernetes.io/h2c': 'http2',
  'kubernetes.io/ws': 'http',
  'kubernetes.io/wss': 'tls',
};

/** The outcome of parsing one protocol name: known, refused with a reason, or not a protocol name. */
export type ParsedProtocol = { kind: 'known'; protocol: ServiceProtocol } | { kind: 'refused'; reason: string } | { kind: 'unknown' };

/** Parses a whole protocol name as Istio's `protocol.Parse` does (case-insensitive). */
export function parseProtocolName(name: string): ParsedProtocol {
  const lower = name.toLowerCase();
  const known = ISTIO_NAMES[lower];
  if (known !== undefined) return { kind: 'known', protocol: known };
  const refused = REFUSED[lower];
  if (refused !== undefined) return { kind: 'refused', reason: refused };
  return { kind: 'unknown' };
}

/**
 * The protocol a port name implies: `grpc-web` and `grpc-web-<suffix>` first (its prefix holds a
 * hyphen), else the text before the first `-`. `http2foo` implies nothing, as in Istio.
 */
export function protocolFromPortName(name: string): ParsedProtocol {
  const lower = name.toLowerCase();
  if (lower === 'grpc-web' || lower.startsWith('grpc-web-')) return { kind: 'known', protocol: 'grpc-web' };
  const dash = lower.indexOf('-');
  return parseProtocolName(dash >= 0 ? lower.slice(0, dash) : lower);
}

export interface ProtocolInput {
  /** meshfed's explicit protocol (topology `protocol`, ServiceEntry `ports[].protocol`). */
  protocol?: string | undefined;
  /** Kubernetes `appProtocol`. */
  appProtocol?: string | undefined;
  /** The port's name (`http-web`, `tcp-db`, `tls`, …). */
  portName?: string | undefined;
}

export interface ProtocolChoice {
  protocol: ServiceProtocol;
  source: ProtocolSource;
}

/** A selection failure: the input field at fault and why. Callers prefix their own path. */
export interface ProtocolProblem {
  field: keyof ProtocolInput;
  message: string;
}

/**
 * Chooses a port's protocol: `protocol`, else `appProtocol`, else the port name's prefix, else
 * DEFAULT_SERVICE_PROTOCOL. An explicit protocol must name a protocol meshfed honours; an
 * appProtocol is read as Istio reads it (Kubernetes' `kubernetes.io/h2c|ws|wss`, else like a port
 * name) but must imply one (Istio would sniff an unknown one; meshfed refuses it rather than
 * guess). Setting both is refused (one would be ignored). A name whose prefix is no protocol
 * falls through to the default, as in Istio; a name whose prefix is a refused protocol (`udp-…`)
 * is refused.
 */
export function selectProtocol(input: ProtocolInput): { ok: true; value: ProtocolChoice } | { ok: false; errors: ProtocolProblem[] } {
  const explicit = (field: 'protocol' | 'appProtocol', value: string, parsed: ParsedProtocol) => {
    if (parsed.kind === 'known') return { ok: true as const, value: { protocol: parsed.protocol, source: field } };
    const message =
      parsed.kind === 'refused'
        ? `${JSON.stringify(value)}: ${parsed.reason}`
        : `unknown protocol ${JSON.stringify(value)}: must be one of ${Object.keys(ISTIO_NAMES).join(', ')}`;
    return { ok: false as const, errors: [{ field, message }] };
  };
  if (input.protocol !== undefined && input.appProtocol !== undefined) {
    return { ok: false, errors: [{ field: 'appProtocol', message: 'set protocol or appProtocol, not both' }] };
  }
  if (input.protocol !== undefined) return explicit('protocol', input.protocol, parseProtocolName(input.protocol));
  if (input.appProtocol !== undefined) {
    const k8s = KUBERNETES_APP_PROTOCOLS[input.appProtocol];
    return explicit('appProtocol', input.appProtocol, k8s !== undefined ? { kind: 'known', protocol: k8s } : protocolFromPortName(input.appProtocol));
  }
  if (input.portName !== undefined) {
    const parsed = protocolFromPortName(input.portName);
    if (parsed.kind === 'known') return { ok: true, value: { protocol: parsed.protocol, source: 'portName' } };
    if (parsed.kind === 'refused') return { ok: false, errors: [{ field: 'portName', message: `${JSON.stringify(input.portName)}: ${parsed.reason}` }] };
  }
  return { ok: true, value: { protocol: DEFAULT_SERVICE_PROTOCOL, source: 'default' } };
}

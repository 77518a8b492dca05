import test from 'ava';
import { captureInitArgs } from '../../src/webhooks/index.ts';

/** The init container's `meshfed capture-init` flags from Istio's annotations: each alone, then the errors. No network. */

const FIXED = ['capture-init', '--proxy-uid', '1337', '--proxy-gid', '1337', '--outbound-capture-port', '15001', '--inbound-capture-port', '15006'];

/** The variable flags as a map, after checking the fixed prefix and the flag order. */
function flags(args: readonly string[]): Record<string, string> {
  const rest = args.slice(FIXED.length);
  const names = rest.filter((_, i) => i % 2 === 0);
  if (names.join(' ') !== '--include-inbound-ports --exclude-inbound-ports --exclude-outbound-ports --include-outbound-ip-ranges --exclude-outbound-ip-ranges') {
    throw new Error(`unexpected flags ${names.join(' ')}`);
  }
  return Object.fromEntries(names.map((n, i) => [n.slice(2), rest[2 * i + 1] ?? '']));
}

const DEFAULTS = {
  'include-inbound-ports': '9080,9090',
  'exclude-inbound-ports': '15020,15021,15090',
  'exclude-outbound-ports': '',
  'include-outbound-ip-ranges': '*',
  'exclude-outbound-ip-ranges': '',
};

const ok: { name: string; annotations: Record<string, string>; ports: number[]; want: Partial<typeof DEFAULTS> }[] = [
  { name: 'defaults: the container ports, the proxy ports excluded, every range', annotations: {}, ports: [9080, 9090], want: {} },
  { name: "no container port: every inbound port ('*')", annotations: {}, ports: [], want: { 'include-inbound-ports': '*' } },
  { name: 'a port declared twice is listed once', annotations: {}, ports: [9080, 9080], want: { 'include-inbound-ports': '9080' } },
  { name: 'includeInboundPorts', annotations: { 'traffic.sidecar.istio.io/includeInboundPorts': '8080, 8443' }, ports: [9080], want: { 'include-inbound-ports': '8080,8443' } },
  { name: "includeInboundPorts '*'", annotations: { 'traffic.sidecar.istio.io/includeInboundPorts': '*' }, ports: [9080], want: { 'include-inbound-ports': '*' } },
  { name: 'includeInboundPorts empty: nothing inbound captured', annotations: { 'traffic.sidecar.istio.io/includeInboundPorts': '' }, ports: [9080], want: { 'include-inbound-ports': '' } },
  { name: 'excludeInboundPorts adds to the proxy ports', annotations: { 'traffic.sidecar.istio.io/excludeInboundPorts': '9090,15021' }, ports: [9080, 9090], want: { 'exclude-inbound-ports': '15020,15021,15090,9090' } },
  { name: 'excludeOutboundPorts', annotations: { 'traffic.sidecar.istio.io/excludeOutboundPorts': '5432,6379' }, ports: [9080, 9090], want: { 'exclude-outbound-ports': '5432,6379' } },
  { name: 'includeOutboundIPRanges', annotations: { 'traffic.sidecar.istio.io/includeOutboundIPRanges': '10.96.0.0/12,fd00::/8' }, ports: [9080, 9090], want: { 'include-outbound-ip-ranges': '10.96.0.0/12,fd00::/8' } },
  { name: 'excludeOutboundIPRanges', annotations: { 'traffic.sidecar.istio.io/excludeOutboundIPRanges': '169.254.169.254/32' }, ports: [9080, 9090], want: { 'exclude-outbound-ip-ranges': '169.254.169.254/32' } },
];

for (const c of ok) {
  test(`capture-init args: ${c.name}`, (t) => {
    const r = captureInitArgs(c.annotations, c.ports);
    if (!r.ok) return t.fail(r.errors.join('\n'));
    t.deepEqual(r.value.slice(0, FIXED.length), FIXED);
    t.deepEqual(flags(r.value), { ...DEFAULTS, ...c.want });
  });
}

const bad: { annotation: string; value: string; error: RegExp }[] = [
  { annotation: 'includeInboundPorts', value: '80,http', error: /"http" is not a port 1\.\.65535 \(or '\*' alone\)/ },
  { annotation: 'includeInboundPorts', value: '*,80', error: /"\*" is not a port/ },
  { annotation: 'excludeInboundPorts', value: '70000', error: /"70000" is not a port 1\.\.65535$/ },
  { annotation: 'excludeOutboundPorts', value: '0', error: /"0" is not a port/ },
  { annotation: 'excludeOutboundPorts', value: '*', error: /"\*" is not a port 1\.\.65535$/ },
  { annotation: 'includeOutboundIPRanges', value: '10.0.0.0', error: /"10\.0\.0\.0" is not a CIDR/ },
  { annotation: 'includeOutboundIPRanges', value: '10.0.0.0/33', error: /"10\.0\.0\.0\/33" is not a CIDR/ },
  { annotation: 'excludeOutboundIPRanges', value: 'example.com/8', error: /"example\.com\/8" is not a CIDR/ },
];

for (const c of bad) {
  test(`capture-init args: ${c.annotation}=${JSON.stringify(c.value)} is refused with its path`, (t) => {
    const key = `traffic.sidecar.istio.io/${c.annotation}`;
    const r = captureInitArgs({ [key]: c.value }, [9080]);
    if (r.ok) return t.fail(`accepted: ${r.value.join(' ')}`);
    t.is(r.errors.length, 1);
    t.true((r.errors[0] ?? '').startsWith(`metadata.annotations["${key}"]: `), r.errors[0]);
    t.regex(r.errors[0] ?? '', c.error);
  });
}

test('capture-init args: every malformed annotation is reported at once', (t) => {
  const r = captureInitArgs({ 'traffic.sidecar.istio.io/excludeOutboundPorts': 'x', 'traffic.sidecar.istio.io/excludeOutboundIPRanges': 'y' }, [9080]);
  t.false(r.ok);
  if (!r.ok) t.is(r.errors.length, 2);
});

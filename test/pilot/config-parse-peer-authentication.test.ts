import test from 'ava';
import { parseConfigText } from '../../src/pilot/config/index.ts';
import type { PeerAuthenticationConfig, PeerAuthenticationSpec } from '../../src/pilot/config/index.ts';

/** Istio `PeerAuthentication` parsing: every field, accepted in its normalized form or refused with its path. */

const PA = (spec: string, meta = 'name: default, namespace: shop', version = 'v1'): string =>
  `apiVersion: security.istio.io/${version}\nkind: PeerAuthentication\nmetadata: {${meta}}\n${spec}`;

function parse(text: string): { spec?: PeerAuthenticationSpec; errors: string[] } {
  const r = parseConfigText(text, 'east/pa.yaml');
  if (!r.ok) return { errors: r.errors.map(String) };
  const pa = r.value[0] as PeerAuthenticationConfig | undefined;
  return pa ? { spec: pa.spec, errors: [] } : { errors: [] };
}

const ACCEPTED: { name: string; text: string; spec: PeerAuthenticationSpec }[] = [
  { name: 'mesh STRICT (v1)', text: PA('spec: {mtls: {mode: STRICT}}', 'name: default, namespace: istio-system'), spec: { mode: 'STRICT', portLevelMtls: [] } },
  { name: 'v1beta1 PERMISSIVE', text: PA('spec: {mtls: {mode: PERMISSIVE}}', undefined, 'v1beta1'), spec: { mode: 'PERMISSIVE', portLevelMtls: [] } },
  { name: 'no spec: UNSET', text: PA(''), spec: { mode: 'UNSET', portLevelMtls: [] } },
  { name: 'mtls without mode: UNSET', text: PA('spec: {mtls: {}}'), spec: { mode: 'UNSET', portLevelMtls: [] } },
  {
    name: 'workload scope with portLevelMtls, sorted by port',
    text: PA('spec:\n  selector: {matchLabels: {app: db}}\n  mtls: {mode: STRICT}\n  portLevelMtls:\n    "9090": {mode: DISABLE}\n    "80": {}'),
    spec: { selector: { matchLabels: { app: 'db' } }, mode: 'STRICT', portLevelMtls: [{ port: 80, mode: 'UNSET' }, { port: 9090, mode: 'DISABLE' }] },
  },
];

for (const row of ACCEPTED) {
  test(`accepts: ${row.name}`, (t) => {
    const r = parse(row.text);
    t.deepEqual(r.errors, []);
    t.deepEqual(r.spec, row.spec);
  });
}

const REJECTED: { name: string; text: string; error: string }[] = [
  { name: 'unknown mode', text: PA('spec: {mtls: {mode: MUTUAL}}'), error: 'spec.mtls.mode: must be one of UNSET, DISABLE, PERMISSIVE, STRICT' },
  {
    name: 'portLevelMtls at namespace scope',
    text: PA('spec:\n  mtls: {mode: STRICT}\n  portLevelMtls: {"80": {mode: DISABLE}}'),
    error: 'spec.portLevelMtls: portLevelMtls requires a selector (workload scope), as Istio requires',
  },
  {
    name: 'portLevelMtls at mesh scope',
    text: PA('spec:\n  portLevelMtls: {"80": {mode: DISABLE}}', 'name: default, namespace: istio-system'),
    error: 'spec.portLevelMtls: portLevelMtls requires a selector (workload scope), as Istio requires',
  },
  { name: 'port key out of range', text: PA('spec:\n  selector: {matchLabels: {app: a}}\n  portLevelMtls: {"70000": {mode: DISABLE}}'), error: 'spec.portLevelMtls.70000: invalid key: must be a port 1..65535' },
  { name: 'port key not a number', text: PA('spec:\n  selector: {matchLabels: {app: a}}\n  portLevelMtls: {http: {mode: DISABLE}}'), error: 'spec.portLevelMtls.http: invalid key: must be a port 1..65535' },
  { name: 'empty selector', text: PA('spec:\n  selector: {matchLabels: {}}\n  mtls: {mode: STRICT}'), error: 'spec.selector.matchLabels: must name at least one label' },
  { name: 'unknown field in mtls', text: PA('spec: {mtls: {mode: STRICT, strict: true}}'), error: 'spec.mtls.strict: unknown field' },
  { name: 'unknown spec field', text: PA('spec: {mtls: {mode: STRICT}, targetRefs: []}'), error: 'spec.targetRefs: unknown field' },
  { name: 'unsupported version', text: PA('spec: {}', undefined, 'v1alpha1'), error: 'security.istio.io/v1alpha1 is not a supported version' },
];

for (const row of REJECTED) {
  test(`rejects with its path: ${row.name}`, (t) => {
    const r = parse(row.text);
    t.is(r.spec, undefined);
    t.true(r.errors.some((e) => e.includes(row.error)), r.errors.join('\n'));
  });
}

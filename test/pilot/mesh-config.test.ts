import test from 'ava';
import { type DEFAULT_MESH_CONFIG, parseMeshConfigText } from '../../src/pilot/config/mesh-config.ts';

/**
 * `--mesh-config` (Istio's meshConfig subset): defaults, each field read, and every field meshfed
 * does not implement refused with its path, never ignored. Pure; no files.
 */

const OK_ROWS: { name: string; yaml: string; expect: Partial<Record<keyof typeof DEFAULT_MESH_CONFIG, unknown>> }[] = [
  { name: 'empty file: Istio defaults', yaml: '', expect: { rootNamespace: 'istio-system', pathNormalization: 'BASE', trustDomainAliases: [], extensionProviders: [] } },
  { name: 'rootNamespace and trust domain', yaml: 'rootNamespace: mesh-root\ntrustDomain: east.example\n', expect: { rootNamespace: 'mesh-root', trustDomain: 'east.example' } },
  { name: 'aliases, repeats dropped', yaml: 'trustDomainAliases: [old.example, old.example, legacy.local]\n', expect: { trustDomainAliases: ['old.example', 'legacy.local'] } },
  ...(['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] as const).map((n) => ({
    name: `pathNormalization ${n}`,
    yaml: `pathNormalization: {normalization: ${n}}\n`,
    expect: { pathNormalization: n },
  })),
];

for (const row of OK_ROWS) {
  test(`valid: ${row.name}`, (t) => {
    const r = parseMeshConfigText(row.yaml, 'mesh.yaml');
    t.true(r.ok, r.ok ? '' : r.errors.map(String).join('\n'));
    if (!r.ok) return;
    for (const [k, v] of Object.entries(row.expect)) t.deepEqual((r.value as unknown as Record<string, unknown>)[k], v, k);
  });
}

const BAD_ROWS: { name: string; yaml: string; path: string; code: string; message: RegExp }[] = [
  { name: 'unknown top-level field', yaml: 'enableTracing: true\n', path: 'enableTracing', code: 'CONFIG_UNSUPPORTED', message: /not supported/ },
  { name: 'unknown pathNormalization field', yaml: 'pathNormalization: {normalization: BASE, extra: 1}\n', path: 'pathNormalization.extra', code: 'CONFIG_UNSUPPORTED', message: /not supported/ },
  { name: 'bad normalization', yaml: 'pathNormalization: {normalization: SOMETIMES}\n', path: 'pathNormalization.normalization', code: 'CONFIG_INVALID', message: /NONE, BASE/ },
  { name: 'root namespace not a DNS label', yaml: 'rootNamespace: Istio_System\n', path: 'rootNamespace', code: 'CONFIG_INVALID', message: /DNS label/ },
  { name: 'bad alias', yaml: 'trustDomainAliases: ["Bad Domain"]\n', path: 'trustDomainAliases[0]', code: 'CONFIG_INVALID', message: /trust domain/ },
  {
    name: 'another provider kind',
    yaml: 'extensionProviders:\n- name: z\n  zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}\n',
    path: 'extensionProviders[0].zipkin',
    code: 'CONFIG_UNSUPPORTED',
    message: /zipkin is not supported/,
  },
  {
    name: 'http ext_authz provider',
    yaml: 'extensionProviders:\n- name: h\n  envoyExtAuthzHttp: {service: a, port: 80}\n',
    path: 'extensionProviders[0].envoyExtAuthzHttp',
    code: 'CONFIG_UNSUPPORTED',
    message: /envoyExtAuthzHttp is not supported/,
  },
  {
    name: 'unimplemented ext_authz field',
    yaml: 'extensionProviders:\n- name: a\n  envoyExtAuthzGrpc: {service: a, port: 9000, includeRequestBody: {maxRequestBytes: 10}}\n',
    path: 'extensionProviders[0].envoyExtAuthzGrpc.includeRequestBody',
    code: 'CONFIG_UNSUPPORTED',
    message: /not supported/,
  },
  { name: 'provider without a kind', yaml: 'extensionProviders:\n- name: a\n', path: 'extensionProviders[0].envoyExtAuthzGrpc', code: 'CONFIG_INVALID', message: /required/ },
  {
    name: 'provider port out of range',
    yaml: 'extensionProviders:\n- name: a\n  envoyExtAuthzGrpc: {service: a, port: 70000}\n',
    path: 'extensionProviders[0].envoyExtAuthzGrpc.port',
    code: 'CONFIG_INVALID',
    message: /port number/,
  },
  {
    name: 'provider defined twice',
    yaml: 'extensionProviders:\n- name: a\n  envoyExtAuthzGrpc: {service: a, port: 1}\n- name: a\n  envoyExtAuthzGrpc: {service: b, port: 2}\n',
    path: 'extensionProviders[1].name',
    code: 'CONFIG_INVALID',
    message: /twice/,
  },
  {
    name: 'a well-formed envoyExtAuthzGrpc provider, while CUSTOM is not implemented',
    yaml: 'extensionProviders:\n- name: authz\n  envoyExtAuthzGrpc: {service: a.b.svc.cluster.local, port: 9000, timeout: 250ms, failOpen: true}\n',
    path: 'extensionProviders',
    code: 'CONFIG_UNSUPPORTED',
    message: /CUSTOM \(ext_authz\) is not implemented/,
  },
  { name: 'not a mapping', yaml: '- a\n- b\n', path: '', code: 'CONFIG_INVALID', message: /mapping/ },
  { name: 'not YAML', yaml: 'a: [\n', path: '', code: 'CONFIG_SYNTAX', message: /./ },
];

for (const row of BAD_ROWS) {
  test(`refused: ${row.name}`, (t) => {
    const r = parseMeshConfigText(row.yaml, 'mesh.yaml');
    t.false(r.ok);
    if (r.ok) return;
    const e = r.errors.find((x) => x.path === row.path);
    t.truthy(e, r.errors.map(String).join('\n'));
    t.is(String(e?.code), row.code);
    t.regex(e?.message ?? '', row.message);
    t.true(String(e).startsWith('mesh.yaml: MeshConfig'), String(e));
  });
}

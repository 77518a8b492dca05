import test from 'ava';
import type { UriSanMatcher } from '../../src/xds/config-types.ts';
import { validateCluster } from '../../src/xds/index.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { decoded } from './support/decode.ts';

/**
 * The server SAN matchers of mesh mTLS clusters (Istio's ISTIO_MUTUAL `combined_validation_context`):
 * exact / prefix matchers of type URI become `serverSans`; everything else is NACKed with its path.
 */

const ROOTCA = { name: 'ROOTCA', sds_config: { ads: {} } };

function cluster(combined: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}): object {
  return {
    '@type': TYPE_URL.cluster,
    name: 'outbound|9080||reviews.default.svc.cluster.local',
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {} } },
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': TYPED_CONFIG.upstreamTls,
        sni: 'outbound_.9080_._.reviews.default.svc.cluster.local',
        common_tls_context: {
          tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: { ads: {} } }],
          ...(combined ? { combined_validation_context: combined } : { validation_context_sds_secret_config: ROOTCA }),
          alpn_protocols: ['h2'],
          ...extra,
        },
      },
    },
  };
}

const sans = (...m: object[]) => ({ default_validation_context: { match_typed_subject_alt_names: m }, validation_context_sds_secret_config: ROOTCA });
const P = 'transport_socket.typed_config.common_tls_context.combined_validation_context';

const GOOD: { name: string; resource: object; serverSans: UriSanMatcher[] | undefined }[] = [
  { name: 'no combined context: any mesh identity', resource: cluster(undefined), serverSans: undefined },
  {
    name: 'exact URI matchers',
    resource: cluster(sans({ san_type: 'URI', matcher: { exact: 'spiffe://cluster.local/ns/default/sa/reviews' } }, { san_type: 'URI', matcher: { exact: 'spiffe://cluster.local/ns/default/sa/r2' } })),
    serverSans: [
      { kind: 'exact', value: 'spiffe://cluster.local/ns/default/sa/reviews' },
      { kind: 'exact', value: 'spiffe://cluster.local/ns/default/sa/r2' },
    ],
  },
  { name: 'a prefix URI matcher', resource: cluster(sans({ san_type: 'URI', matcher: { prefix: 'spiffe://cluster.local/ns/default/' } })), serverSans: [{ kind: 'prefix', value: 'spiffe://cluster.local/ns/default/' }] },
  { name: 'a combined context without SAN matchers', resource: cluster({ validation_context_sds_secret_config: ROOTCA }), serverSans: undefined },
];

for (const row of GOOD) {
  test(`valid: ${row.name}`, (t) => {
    const r = validateCluster(decoded(row.resource));
    if (!r.ok) return t.fail(r.errors.join(' | '));
    t.deepEqual(r.value.tls?.serverSans, row.serverSans);
    t.is(r.value.tls?.origination, undefined, 'still mesh mTLS');
  });
}

const BAD: { name: string; resource: object; error: string }[] = [
  { name: 'a DNS SAN', resource: cluster(sans({ san_type: 'DNS', matcher: { exact: 'reviews' } })), error: `${P}.default_validation_context.match_typed_subject_alt_names[0].san_type: "DNS" is not supported for mesh mTLS (only URI)` },
  { name: 'an EMAIL SAN', resource: cluster(sans({ san_type: 'EMAIL', matcher: { exact: 'a@b' } })), error: `${P}.default_validation_context.match_typed_subject_alt_names[0].san_type: "EMAIL" is not supported for mesh mTLS (only URI)` },
  { name: 'no SAN type', resource: cluster(sans({ matcher: { exact: 'spiffe://x/ns/a/sa/b' } })), error: `${P}.default_validation_context.match_typed_subject_alt_names[0].san_type: null is not supported for mesh mTLS (only URI)` },
  { name: 'a suffix matcher', resource: cluster(sans({ san_type: 'URI', matcher: { suffix: '/sa/reviews' } })), error: `${P}.default_validation_context.match_typed_subject_alt_names[0].matcher.suffix: unsupported field` },
  { name: 'a regex matcher', resource: cluster(sans({ san_type: 'URI', matcher: { safe_regex: { regex: '.*' } } })), error: `${P}.default_validation_context.match_typed_subject_alt_names[0].matcher.safe_regex: unsupported field` },
  { name: 'an empty exact matcher', resource: cluster(sans({ san_type: 'URI', matcher: { exact: '' } })), error: `${P}.default_validation_context.match_typed_subject_alt_names[0].matcher.exact: missing` },
  { name: 'a case-insensitive matcher', resource: cluster(sans({ san_type: 'URI', matcher: { exact: 'spiffe://x/ns/a/sa/b', ignore_case: true } })), error: `${P}.default_validation_context.match_typed_subject_alt_names[0].matcher.ignore_case: unsupported field` },
  {
    name: 'the deprecated untyped match_subject_alt_names',
    resource: cluster({ default_validation_context: { match_subject_alt_names: [{ exact: 'spiffe://x/ns/a/sa/b' }] }, validation_context_sds_secret_config: ROOTCA }),
    error: `${P}.default_validation_context.match_subject_alt_names: is not supported (use match_typed_subject_alt_names with san_type URI)`,
  },
  { name: 'other validation settings (CRL)', resource: cluster({ default_validation_context: { crl: { filename: '/crl' } }, validation_context_sds_secret_config: ROOTCA }), error: `${P}.default_validation_context.crl: unsupported field` },
  { name: 'a combined context without the roots secret', resource: cluster({ default_validation_context: {} }), error: `${P}.validation_context_sds_secret_config: missing` },
  {
    name: 'both a combined context and a plain roots secret',
    resource: cluster(sans({ san_type: 'URI', matcher: { exact: 'spiffe://x/ns/a/sa/b' } }), { validation_context_sds_secret_config: ROOTCA }),
    error: `${P}: cannot be set with validation_context_sds_secret_config`,
  },
];

for (const row of BAD) {
  test(`NACKed: ${row.name}`, (t) => {
    const r = validateCluster(decoded(row.resource));
    t.false(r.ok);
    if (!r.ok) t.true(r.errors.includes(row.error), `got: ${r.errors.join(' | ')}`);
  });
}

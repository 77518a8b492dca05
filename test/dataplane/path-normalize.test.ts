import test from 'ava';
import { normalizePath, type PathNormalization } from '../../src/dataplane/http/path-normalize.ts';

/** Path normalization (attack case 3), per Istio option: the path routing, authz and the backend see. */

const ROWS: { path: string; want: Partial<Record<PathNormalization, string | null>> }[] = [
  { path: '/admin', want: { NONE: '/admin', BASE: '/admin', MERGE_SLASHES: '/admin', DECODE_AND_MERGE_SLASHES: '/admin' } },
  { path: '//admin', want: { NONE: '//admin', BASE: '//admin', MERGE_SLASHES: '/admin', DECODE_AND_MERGE_SLASHES: '/admin' } },
  { path: '/a/../admin', want: { NONE: '/a/../admin', BASE: '/admin', MERGE_SLASHES: '/admin', DECODE_AND_MERGE_SLASHES: '/admin' } },
  { path: '/a/./b/../../admin/', want: { BASE: '/admin/' } },
  { path: '/../../admin', want: { BASE: '/admin' } },
  { path: '/a/..', want: { BASE: '/' } },
  { path: '/%2e%2e/admin', want: { BASE: '/admin' } },
  { path: '/%61dmin', want: { BASE: '/admin' } },
  { path: '/%2Fadmin', want: { NONE: '/%2Fadmin', BASE: '/%2Fadmin', MERGE_SLASHES: '/%2Fadmin', DECODE_AND_MERGE_SLASHES: '/admin' } },
  { path: '/%2fadmin', want: { BASE: '/%2Fadmin', DECODE_AND_MERGE_SLASHES: '/admin' } },
  { path: '/x%5C..%5Cadmin', want: { BASE: '/x%5C..%5Cadmin', DECODE_AND_MERGE_SLASHES: '/admin' } },
  { path: '/x\\..\\admin', want: { BASE: '/admin' } },
  { path: '/admin#x', want: { NONE: '/admin#x', BASE: null, MERGE_SLASHES: null, DECODE_AND_MERGE_SLASHES: null } },
  { path: '/..;p=1/admin', want: { BASE: '/..;p=1/admin', DECODE_AND_MERGE_SLASHES: '/..;p=1/admin' } },
  { path: '/a%zz', want: { BASE: null } },
  { path: '/a/../b?x=/../c//d', want: { BASE: '/b?x=/../c//d', MERGE_SLASHES: '/b?x=/../c//d' } },
  { path: '*', want: { BASE: '*' } },
];

for (const row of ROWS) {
  for (const [mode, want] of Object.entries(row.want) as [PathNormalization, string | null][]) {
    test(`${mode} ${JSON.stringify(row.path)} → ${want === null ? '400' : JSON.stringify(want)}`, (t) => {
      const r = normalizePath(row.path, mode);
      if (want === null) t.false(r.ok);
      else t.deepEqual(r, { ok: true, path: want });
    });
  }
}

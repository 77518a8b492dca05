import test from 'ava';
import { selectByServerName } from '../../../src/dataplane/tcp/index.ts';

/** Envoy's server-name order for filter chains: exact, longest wildcard suffix, then no server names. Pure. */
const chains = [
  { id: 'exact', serverNames: ['a.example.com'] },
  { id: 'wide', serverNames: ['*.example.com'] },
  { id: 'narrow', serverNames: ['*.b.example.com', 'other.test'] },
  { id: 'default', serverNames: [] },
];

const rows: [sni: string | undefined, expected: string][] = [
  ['a.example.com', 'exact'],
  ['A.Example.COM', 'exact'],
  ['c.example.com', 'wide'],
  ['x.a.example.com', 'wide'],
  ['x.b.example.com', 'narrow'],
  ['y.x.b.example.com', 'narrow'],
  ['b.example.com', 'wide'],
  ['other.test', 'narrow'],
  ['example.com', 'default'],
  ['elsewhere.org', 'default'],
  ['', 'default'],
  [undefined, 'default'],
];

for (const [sni, expected] of rows) {
  test(`SNI ${JSON.stringify(sni)} → ${expected}`, (t) => {
    t.is(selectByServerName(chains, sni)?.id, expected);
  });
}

test('without a chain lacking server names, an unmatched or absent SNI selects nothing', (t) => {
  const named = chains.filter((c) => c.id !== 'default');
  t.is(selectByServerName(named, 'elsewhere.org'), undefined);
  t.is(selectByServerName(named, undefined), undefined);
  t.is(selectByServerName(named, 'q.example.com')?.id, 'wide');
});

test('an exact name wins over a wildcard listed on an earlier chain', (t) => {
  t.is(selectByServerName([{ id: 'w', serverNames: ['*.example.com'] }, { id: 'e', serverNames: ['a.example.com'] }], 'a.example.com')?.id, 'e');
});

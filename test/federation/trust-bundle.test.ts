/**
 * The federation's trust rule, as a table: a peer is trusted when its published bundle shares at
 * least one root with the local bundle (a rotation publishes old+new), refused when it publishes
 * nothing, no certificate, or only roots the local bundle lacks. Pure, no network.
 */
import test from 'ava';
import { peerTrust, sameRoots, sharedRootCount } from '../../src/federation/trust-bundle.ts';
import { makeRootCert } from './fixtures.ts';

const OLD = makeRootCert('old root');
const NEW = makeRootCert('new root');
const OTHER = makeRootCert('another mesh');
/** The same PEM with CRLF line endings and extra blank lines: the same certificate. */
const OLD_CRLF = `\r\n${OLD.replace(/\n/g, '\r\n')}\r\n\r\n`;

interface Row {
  name: string;
  local: string;
  published: string | undefined;
  trusted: boolean;
  shared?: number;
  reason?: RegExp;
}

const ROWS: Row[] = [
  { name: 'equal single roots', local: OLD, published: OLD, trusted: true, shared: 1 },
  { name: 'the same root, other whitespace and line endings', local: OLD, published: OLD_CRLF, trusted: true, shared: 1 },
  { name: 'phase 1: peer publishes old+new, local holds old', local: OLD, published: OLD + NEW, trusted: true, shared: 1 },
  { name: 'phase 1: local holds old+new, peer still old', local: OLD + NEW, published: OLD, trusted: true, shared: 1 },
  { name: 'both hold old+new, in different orders', local: OLD + NEW, published: NEW + OLD, trusted: true, shared: 2 },
  { name: 'phase 3 done in the peer, local still old+new', local: OLD + NEW, published: NEW, trusted: true, shared: 1 },
  { name: 'a duplicated root counts once', local: OLD, published: OLD + OLD, trusted: true, shared: 1 },
  { name: 'disjoint single roots', local: OLD, published: NEW, trusted: false, reason: /cluster peer \(root certificate\) shares no root with the local bundle/ },
  { name: 'disjoint bundles of two roots', local: OLD + NEW, published: OTHER + makeRootCert('x'), trusted: false, reason: /\(2 root certificates\) shares no root/ },
  { name: 'nothing published', local: OLD, published: undefined, trusted: false, reason: /cluster peer has published no root certificate/ },
  { name: 'published text without a certificate', local: OLD, published: 'hello', trusted: false, reason: /published a trust bundle without a certificate/ },
  { name: 'an empty published value', local: OLD, published: '', trusted: false, reason: /without a certificate/ },
];

for (const row of ROWS) {
  test(`peerTrust: ${row.name}`, (t) => {
    const verdict = peerTrust('peer', row.published, row.local);
    t.is(verdict.trusted, row.trusted);
    if (verdict.trusted) t.is(verdict.sharedRoots, row.shared ?? -1);
    else t.regex(verdict.reason, row.reason ?? /./);
  });
}

const SAME: { name: string; a: string; b: string; same: boolean; shared: number }[] = [
  { name: 'one root each, equal', a: OLD, b: OLD_CRLF, same: true, shared: 1 },
  { name: 'old+new against old', a: OLD + NEW, b: OLD, same: false, shared: 1 },
  { name: 'order does not matter', a: OLD + NEW, b: NEW + OLD, same: true, shared: 2 },
  { name: 'no certificate on either side', a: '', b: '', same: false, shared: 0 },
];

for (const row of SAME) {
  test(`sameRoots / sharedRootCount: ${row.name}`, (t) => {
    t.is(sameRoots(row.a, row.b), row.same);
    t.is(sharedRootCount(row.a, row.b), row.shared);
  });
}

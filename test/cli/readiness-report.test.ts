import test from 'ava';
import type { FirstSyncState } from '../../src/federation/index.ts';
import {
  certificateCheck,
  federationCheck,
  type ReadinessCheck,
  readinessFailures,
  readinessReport,
} from '../../src/cli/readiness-report.ts';

/** The `/ready` body and its checks, as pure functions: no sockets. */

const NOW = new Date('2030-01-01T00:00:00Z');
const LATER = new Date('2030-01-02T00:00:00Z');
const EARLIER = new Date('2029-12-31T00:00:00Z');

const reports: { title: string; checks: Record<string, ReadinessCheck>; want: ReturnType<typeof readinessReport> }[] = [
  { title: 'no checks is ready', checks: {}, want: { ready: true, checks: {} } },
  {
    title: 'every check passing',
    checks: { xds: () => true, ca: () => true },
    want: { ready: true, checks: { xds: true, ca: true } },
  },
  {
    title: 'one failing check names its reason',
    checks: { xds: () => true, federation: () => 'no full sync yet' },
    want: { ready: false, checks: { xds: true, federation: 'no full sync yet' } },
  },
  {
    title: 'a throwing check fails with its message, the others still run',
    checks: {
      ca: () => {
        throw new Error('boom');
      },
      xds: () => true,
    },
    want: { ready: false, checks: { ca: 'check failed: boom', xds: true } },
  },
];

for (const r of reports) {
  test(`readinessReport: ${r.title}`, (t) => {
    t.deepEqual(readinessReport(r.checks), r.want);
  });
}

const failures: { title: string; body: string; want: string | undefined }[] = [
  { title: 'all passing', body: '{"ready":true,"checks":{"xds":true}}', want: undefined },
  {
    title: 'the failing checks, in order',
    body: '{"ready":false,"checks":{"xds":"ADS not bound yet on a:1","ca":true,"federation":"no sync"}}',
    want: 'xds: ADS not bound yet on a:1; federation: no sync',
  },
  { title: 'an older body without checks', body: '{"ready":true}', want: undefined },
  { title: 'not JSON (a sidecar health page)', body: 'NOT READY: no config\n', want: undefined },
  { title: 'a check that is neither true nor a reason', body: '{"ready":false,"checks":{"x":false}}', want: undefined },
];

for (const f of failures) {
  test(`readinessFailures: ${f.title}`, (t) => {
    t.is(readinessFailures(f.body), f.want);
  });
}

const certificates: { title: string; serving: Date; signer?: Date; want: true | string }[] = [
  { title: 'serving certificate valid, no signer', serving: LATER, want: true },
  { title: 'serving certificate and intermediate valid', serving: LATER, signer: LATER, want: true },
  { title: 'serving certificate expired', serving: EARLIER, want: `serving certificate expired at ${EARLIER.toISOString()}` },
  {
    title: 'intermediate expired',
    serving: LATER,
    signer: EARLIER,
    want: `intermediate CA certificate expired at ${EARLIER.toUTCString()}`,
  },
];

for (const c of certificates) {
  test(`certificateCheck: ${c.title}`, (t) => {
    const check = certificateCheck({
      serving: { notAfter: c.serving },
      ...(c.signer ? { signer: { validTo: c.signer.toUTCString() } } : {}),
      now: () => NOW,
    });
    t.is(check(), c.want);
  });
}

const federations: { title: string; state: FirstSyncState | undefined; want: true | string }[] = [
  { title: 'controller not started yet', state: undefined, want: 'federation controller not started' },
  { title: 'first sync pending', state: { done: false, reason: 'no full sync with Consul yet: x' }, want: 'no full sync with Consul yet: x' },
  { title: 'first sync done', state: { done: true }, want: true },
];

for (const f of federations) {
  test(`federationCheck: ${f.title}`, (t) => {
    const state = f.state;
    t.is(federationCheck(() => (state ? { firstSync: () => state } : undefined))(), f.want);
  });
}

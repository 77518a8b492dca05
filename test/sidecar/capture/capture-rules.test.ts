import test from 'ava';
import { type CaptureFlag, type CaptureOptions, captureRules, parseCaptureFlags } from '../../../src/sidecar/capture/index.ts';
import { captureInitArgs } from '../../../src/webhooks/index.ts';

/** The capture rules as pure conversions: flags → options → iptables-restore text. Binds nothing. */

const BASE: Record<CaptureFlag, string> = {
  '--proxy-uid': '1337',
  '--proxy-gid': '1337',
  '--outbound-capture-port': '15001',
  '--inbound-capture-port': '15006',
  '--include-inbound-ports': '9080',
  '--exclude-inbound-ports': '15020,15021,15090',
  '--exclude-outbound-ports': '',
  '--include-outbound-ip-ranges': '*',
  '--exclude-outbound-ip-ranges': '',
};

function options(over: Partial<Record<CaptureFlag, string>> = {}): CaptureOptions {
  const r = parseCaptureFlags({ ...BASE, ...over });
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.value;
}

const lines = (text: string): string[] => text.trimEnd().split('\n');

test('the default injection (one container port, every range) writes exactly Istio-shaped nat rules', (t) => {
  const r = captureRules(options());
  t.is(r.v6, undefined);
  t.deepEqual(lines(r.v4), [
    '*nat',
    ':MESHFED_INBOUND - [0:0]',
    ':MESHFED_IN_REDIRECT - [0:0]',
    ':MESHFED_OUTPUT - [0:0]',
    ':MESHFED_REDIRECT - [0:0]',
    '-A MESHFED_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
    '-A MESHFED_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006',
    '-A PREROUTING -p tcp -j MESHFED_INBOUND',
    '-A MESHFED_INBOUND -p tcp --dport 9080 -j MESHFED_IN_REDIRECT',
    '-A OUTPUT -p tcp -j MESHFED_OUTPUT',
    '-A MESHFED_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN',
    '-A MESHFED_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner 1337 -j MESHFED_IN_REDIRECT',
    '-A MESHFED_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN',
    '-A MESHFED_OUTPUT -m owner --uid-owner 1337 -j RETURN',
    '-A MESHFED_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --gid-owner 1337 -j MESHFED_IN_REDIRECT',
    '-A MESHFED_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN',
    '-A MESHFED_OUTPUT -m owner --gid-owner 1337 -j RETURN',
    '-A MESHFED_OUTPUT -d 127.0.0.1/32 -j RETURN',
    '-A MESHFED_OUTPUT -j MESHFED_REDIRECT',
    'COMMIT',
  ]);
});

/** Each row: flags changed from BASE, lines that must appear (in this order), lines that must not. */
const rows: { name: string; flags: Partial<Record<CaptureFlag, string>>; has: string[]; hasNot?: string[]; v6?: boolean }[] = [
  {
    name: "inbound '*': the excluded ports return, then everything else is captured",
    flags: { '--include-inbound-ports': '*' },
    has: [
      '-A MESHFED_INBOUND -p tcp --dport 15020 -j RETURN',
      '-A MESHFED_INBOUND -p tcp --dport 15021 -j RETURN',
      '-A MESHFED_INBOUND -p tcp --dport 15090 -j RETURN',
      '-A MESHFED_INBOUND -p tcp -j MESHFED_IN_REDIRECT',
    ],
  },
  {
    name: 'inbound list: one rule per port, in the given order',
    flags: { '--include-inbound-ports': '9090,9080' },
    has: ['-A MESHFED_INBOUND -p tcp --dport 9090 -j MESHFED_IN_REDIRECT', '-A MESHFED_INBOUND -p tcp --dport 9080 -j MESHFED_IN_REDIRECT'],
  },
  {
    name: 'inbound list minus excluded ports',
    flags: { '--include-inbound-ports': '9080,15021,9090', '--exclude-inbound-ports': '15021,9090' },
    has: ['-A MESHFED_INBOUND -p tcp --dport 9080 -j MESHFED_IN_REDIRECT'],
    hasNot: ['-A MESHFED_INBOUND -p tcp --dport 15021 -j MESHFED_IN_REDIRECT', '-A MESHFED_INBOUND -p tcp --dport 9090 -j MESHFED_IN_REDIRECT'],
  },
  {
    name: 'inbound list entirely excluded: no PREROUTING jump',
    flags: { '--include-inbound-ports': '15021', '--exclude-inbound-ports': '15021' },
    has: ['-A OUTPUT -p tcp -j MESHFED_OUTPUT'],
    hasNot: ['-A PREROUTING -p tcp -j MESHFED_INBOUND'],
  },
  {
    name: 'inbound empty: no inbound capture at all',
    flags: { '--include-inbound-ports': '' },
    has: [':MESHFED_INBOUND - [0:0]'],
    hasNot: ['-A PREROUTING -p tcp -j MESHFED_INBOUND'],
  },
  {
    name: 'a duplicated inbound port gets one rule',
    flags: { '--include-inbound-ports': '9080,9080' },
    has: ['-A MESHFED_INBOUND -p tcp --dport 9080 -j MESHFED_IN_REDIRECT'],
  },
  {
    name: 'excluded outbound ports return before any owner rule',
    flags: { '--exclude-outbound-ports': '5432,6379' },
    has: ['-A OUTPUT -p tcp -j MESHFED_OUTPUT', '-A MESHFED_OUTPUT -p tcp --dport 5432 -j RETURN', '-A MESHFED_OUTPUT -p tcp --dport 6379 -j RETURN', '-A MESHFED_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN'],
  },
  {
    name: 'included ranges replace the catch-all redirect',
    flags: { '--include-outbound-ip-ranges': '10.96.0.0/12,198.19.137.0/24' },
    has: ['-A MESHFED_OUTPUT -d 127.0.0.1/32 -j RETURN', '-A MESHFED_OUTPUT -d 10.96.0.0/12 -j MESHFED_REDIRECT', '-A MESHFED_OUTPUT -d 198.19.137.0/24 -j MESHFED_REDIRECT'],
    hasNot: ['-A MESHFED_OUTPUT -j MESHFED_REDIRECT'],
  },
  {
    name: 'excluded ranges return before the included ones',
    flags: { '--include-outbound-ip-ranges': '10.0.0.0/8', '--exclude-outbound-ip-ranges': '10.1.0.0/16,169.254.169.254/32' },
    has: ['-A MESHFED_OUTPUT -d 10.1.0.0/16 -j RETURN', '-A MESHFED_OUTPUT -d 169.254.169.254/32 -j RETURN', '-A MESHFED_OUTPUT -d 10.0.0.0/8 -j MESHFED_REDIRECT'],
  },
  {
    name: "excluded ranges with '*'",
    flags: { '--exclude-outbound-ip-ranges': '198.18.137.0/24' },
    has: ['-A MESHFED_OUTPUT -d 198.18.137.0/24 -j RETURN', '-A MESHFED_OUTPUT -j MESHFED_REDIRECT'],
  },
  {
    name: 'outbound empty: no OUTPUT jump, inbound still captured',
    flags: { '--include-outbound-ip-ranges': '' },
    has: ['-A PREROUTING -p tcp -j MESHFED_INBOUND'],
    hasNot: ['-A OUTPUT -p tcp -j MESHFED_OUTPUT', '-A MESHFED_OUTPUT -j MESHFED_REDIRECT'],
  },
  {
    name: 'another proxy uid and gid',
    flags: { '--proxy-uid': '2000', '--proxy-gid': '3000' },
    has: ['-A MESHFED_OUTPUT -m owner --uid-owner 2000 -j RETURN', '-A MESHFED_OUTPUT -m owner --gid-owner 3000 -j RETURN'],
    hasNot: ['-A MESHFED_OUTPUT -m owner --uid-owner 1337 -j RETURN'],
  },
  {
    name: 'other capture ports',
    flags: { '--outbound-capture-port': '25001', '--inbound-capture-port': '25006' },
    has: ['-A MESHFED_REDIRECT -p tcp -j REDIRECT --to-ports 25001', '-A MESHFED_IN_REDIRECT -p tcp -j REDIRECT --to-ports 25006'],
  },
  {
    name: 'IPv4 ranges only: no IPv6 table',
    flags: { '--include-outbound-ip-ranges': '10.0.0.0/8' },
    has: ['-A MESHFED_OUTPUT -d 10.0.0.0/8 -j MESHFED_REDIRECT'],
    v6: false,
  },
  {
    name: 'an IPv6 range keeps IPv4 rules free of it',
    flags: { '--include-outbound-ip-ranges': '10.0.0.0/8,fd00::/8' },
    has: ['-A MESHFED_OUTPUT -d 10.0.0.0/8 -j MESHFED_REDIRECT'],
    hasNot: ['-A MESHFED_OUTPUT -d fd00::/8 -j MESHFED_REDIRECT'],
    v6: true,
  },
];

for (const row of rows) {
  test(`capture rules: ${row.name}`, (t) => {
    const r = captureRules(options(row.flags));
    const got = lines(r.v4);
    let from = 0;
    for (const line of row.has) {
      const at = got.indexOf(line, from);
      t.true(at >= 0, `missing or out of order: ${line}\n${r.v4}`);
      if (at >= 0) from = at + 1;
    }
    for (const line of row.hasNot ?? []) t.false(got.includes(line), `unexpected: ${line}`);
    if (row.v6 !== undefined) t.is(r.v6 !== undefined, row.v6);
    t.is(got.at(-1), 'COMMIT');
  });
}

test('IPv6 rules: ::1 and ::6 in place of 127.0.0.1 and 127.0.0.6, only the IPv6 ranges', (t) => {
  const r = captureRules(options({ '--include-outbound-ip-ranges': '10.0.0.0/8,fd00::/8', '--exclude-outbound-ip-ranges': 'fd00:1::/32,10.1.0.0/16' }));
  const v6 = lines(r.v6 ?? '');
  t.true(v6.includes('-A MESHFED_OUTPUT -s ::6/128 -o lo -j RETURN'));
  t.true(v6.includes('-A MESHFED_OUTPUT ! -d ::1/128 -o lo -m owner --uid-owner 1337 -j MESHFED_IN_REDIRECT'));
  t.true(v6.includes('-A MESHFED_OUTPUT -d ::1/128 -j RETURN'));
  t.true(v6.indexOf('-A MESHFED_OUTPUT -d fd00:1::/32 -j RETURN') < v6.indexOf('-A MESHFED_OUTPUT -d fd00::/8 -j MESHFED_REDIRECT'));
  t.false(v6.some((l) => l.includes('10.0.0.0/8') || l.includes('10.1.0.0/16') || l.includes('127.0.0.')));
  t.false(lines(r.v4).some((l) => l.includes('fd00')));
});

test("IPv6 with '*' and an excluded IPv6 range: both families catch all", (t) => {
  const r = captureRules(options({ '--exclude-outbound-ip-ranges': 'fd00::/8' }));
  t.true(lines(r.v4).includes('-A MESHFED_OUTPUT -j MESHFED_REDIRECT'));
  t.true(lines(r.v6 ?? '').includes('-A MESHFED_OUTPUT -d fd00::/8 -j RETURN'));
  t.true(lines(r.v6 ?? '').includes('-A MESHFED_OUTPUT -j MESHFED_REDIRECT'));
});

const bad: { flag: CaptureFlag; value: string | undefined; error: RegExp }[] = [
  { flag: '--proxy-uid', value: 'istio', error: /^--proxy-uid: "istio" is not a numeric uid\/gid$/ },
  { flag: '--proxy-gid', value: undefined, error: /^--proxy-gid: required$/ },
  { flag: '--outbound-capture-port', value: '0', error: /^--outbound-capture-port: "0" is not a port 1\.\.65535$/ },
  { flag: '--inbound-capture-port', value: '15001', error: /^--inbound-capture-port: must differ from --outbound-capture-port$/ },
  { flag: '--include-inbound-ports', value: '80,http', error: /^--include-inbound-ports: "http" is not a port 1\.\.65535 \(or '\*' alone\)$/ },
  { flag: '--include-inbound-ports', value: '*,80', error: /^--include-inbound-ports: "\*" is not a port/ },
  { flag: '--exclude-inbound-ports', value: '*', error: /^--exclude-inbound-ports: "\*" is not a port 1\.\.65535$/ },
  { flag: '--exclude-outbound-ports', value: '70000', error: /^--exclude-outbound-ports: "70000" is not a port/ },
  { flag: '--include-outbound-ip-ranges', value: '10.0.0.0', error: /^--include-outbound-ip-ranges: "10\.0\.0\.0" is not a CIDR such as 10\.0\.0\.0\/8 \(or '\*' alone\)$/ },
  { flag: '--include-outbound-ip-ranges', value: 'fd00::/129', error: /^--include-outbound-ip-ranges: "fd00::\/129" is not a CIDR/ },
  { flag: '--exclude-outbound-ip-ranges', value: '*', error: /^--exclude-outbound-ip-ranges: "\*" is not a CIDR such as 10\.0\.0\.0\/8$/ },
];

for (const c of bad) {
  test(`capture flags: ${c.flag}=${JSON.stringify(c.value)} is refused with its flag`, (t) => {
    const flags: Partial<Record<CaptureFlag, string>> = { ...BASE };
    if (c.value === undefined) delete flags[c.flag];
    else flags[c.flag] = c.value;
    const r = parseCaptureFlags(flags);
    if (r.ok) return t.fail('accepted');
    t.is(r.errors.length, 1, r.errors.join('; '));
    t.regex(r.errors[0] ?? '', c.error);
  });
}

test('every problem is reported, not only the first', (t) => {
  const r = parseCaptureFlags({ ...BASE, '--proxy-uid': 'x', '--exclude-outbound-ports': 'y' });
  t.false(r.ok);
  if (!r.ok) t.deepEqual(r.errors.map((e) => e.split(':')[0]), ['--proxy-uid', '--exclude-outbound-ports']);
});

test("the webhook's init-container command line is what capture-init accepts (the contract, flag by flag)", (t) => {
  const args = captureInitArgs({ 'traffic.sidecar.istio.io/excludeOutboundPorts': '5432', 'traffic.sidecar.istio.io/excludeOutboundIPRanges': '169.254.169.254/32' }, [9080, 9090]);
  if (!args.ok) return t.fail(args.errors.join('\n'));
  const [command, ...rest] = args.value;
  t.is(command, 'capture-init');
  const flags: Partial<Record<CaptureFlag, string>> = {};
  for (let i = 0; i < rest.length; i += 2) flags[rest[i] as CaptureFlag] = rest[i + 1] ?? '';
  t.deepEqual(Object.keys(flags), Object.keys(BASE));
  const o = parseCaptureFlags(flags);
  if (!o.ok) return t.fail(o.errors.join('\n'));
  t.deepEqual(o.value.includeInboundPorts, [9080, 9090]);
  t.deepEqual(o.value.excludeOutboundPorts, [5432]);
  const text = captureRules(o.value).v4;
  t.true(text.includes('-A MESHFED_OUTPUT -d 169.254.169.254/32 -j RETURN'));
  t.true(text.includes('-A MESHFED_INBOUND -p tcp --dport 9090 -j MESHFED_IN_REDIRECT'));
});

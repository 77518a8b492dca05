import test from 'ava';
import { adminAddress } from '../../src/sidecar/admin-address.ts';

const ROWS: { workload: string; requested?: string; admin: string | RegExp }[] = [
  { workload: '127.100.1.10', admin: '127.100.1.10' },
  { workload: '198.19.121.10', admin: '198.19.121.10' },
  { workload: '10.244.1.7', requested: '127.0.0.1', admin: '127.0.0.1' },
  { workload: 'fd00::7', requested: '::1', admin: '::1' },
  { workload: '10.244.1.7', requested: '10.244.1.7', admin: '10.244.1.7' },
  { workload: '10.244.1.7', requested: '0.0.0.0', admin: /^admin address 0\.0\.0\.0: must be a loopback address or the workload's own/ },
  { workload: '10.244.1.7', requested: '10.244.1.8', admin: /must be a loopback address/ },
  { workload: '10.244.1.7', requested: '::', admin: /must be a loopback address/ },
];

for (const row of ROWS) {
  test(`admin of a workload at ${row.workload}${row.requested ? ` asked for ${row.requested}` : ''}`, (t) => {
    const r = adminAddress(row.workload, row.requested);
    if (typeof row.admin === 'string') t.deepEqual(r, { ok: true, value: row.admin });
    else t.regex(r.ok ? '' : r.errors, row.admin);
  });
}

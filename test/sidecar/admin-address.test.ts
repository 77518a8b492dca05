import test from 'ava';
import { adminAddress, isLoopbackAddress } from '../../src/sidecar/admin-address.ts';

const ROWS: [string, string][] = [
  ['127.0.0.1', '127.0.0.1'],
  ['127.100.1.10', '127.100.1.10'],
  ['10.244.1.7', '127.0.0.1'],
  ['192.168.0.2', '127.0.0.1'],
  ['0.0.0.0', '127.0.0.1'],
  ['::1', '::1'],
  ['fd00::7', '::1'],
  ['::', '::1'],
];

for (const [workload, admin] of ROWS) {
  test(`admin of a workload at ${workload} binds ${admin}`, (t) => {
    t.is(adminAddress(workload), admin);
    t.true(isLoopbackAddress(adminAddress(workload)));
  });
}

/**
 * `meshfed ca rotate`'s refusals, through the compiled CLI: each exits non-zero with the cause,
 * and touches nothing. (The rotation itself runs in test/e2e/root-rotation.e2e.test.ts.)
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { meshfed } from '../support/cli.ts';

const ROWS: { name: string; args: (dir: string) => string[]; error: RegExp }[] = [
  { name: 'no mesh in the state folder', args: (dir) => ['--state-dir', dir], error: /meshfed ca rotate: no running mesh in / },
  { name: 'an unknown phase', args: (dir) => ['--state-dir', dir, '--phase', 'shuffle'], error: /--phase.*shuffle.*distribute, reissue, drop, all/s },
  { name: 'a timeout that is not a number of seconds', args: (dir) => ['--state-dir', dir, '--timeout', '0'], error: /invalid --timeout/ },
];

for (const row of ROWS) {
  test(`meshfed ca rotate refuses ${row.name}`, async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-rotate-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const r = await meshfed(['ca', 'rotate', ...row.args(dir)]);
    t.not(r.code, 0);
    t.regex(r.stderr, row.error);
    t.deepEqual(await readdir(dir), [], 'nothing written');
  });
}

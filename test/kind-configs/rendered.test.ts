import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { meshfed } from '../support/cli.ts';

/**
 * kind-configs/rendered/<cluster>.yaml is `meshfed install` output, committed so that users can
 * read it. Each file's first line is the command that made it; re-running that command must give
 * the file byte for byte, or the file is stale. Binds nothing.
 */
const DIR = 'kind-configs/rendered';

test('the rendered install manifests are current (re-render and compare)', async (t) => {
  const files = (await readdir(DIR)).filter((f) => f.endsWith('.yaml')).sort();
  t.deepEqual(files, ['east.yaml', 'west.yaml']);
  for (const f of files) {
    const text = await readFile(path.join(DIR, f), 'utf8');
    const first = text.split('\n', 1)[0] ?? '';
    const m = /^# meshfed (install .*)$/.exec(first);
    if (!m?.[1]) {
      t.fail(`${f}: first line must be the meshfed install command that rendered it`);
      continue;
    }
    const r = await meshfed(m[1].split(' '));
    t.is(r.code, 0, r.stderr);
    t.true(r.stdout === text, `${DIR}/${f} is stale: run kind-configs/render.sh (after npm run build) and commit the result`);
  }
});

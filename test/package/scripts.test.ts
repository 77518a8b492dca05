import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { PACKAGE_ROOT } from '../../src/cli/package-paths.ts';

/**
 * package.json scripts that users and CI depend on. `test:unit` selects files: ava's `--match`
 * filters test titles, and no title says "e2e", so a title filter ran the end-to-end files too.
 */
const pkg = JSON.parse(await readFile(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

function globsOf(script: string): { include: string[]; exclude: string[] } {
  const args = [...script.matchAll(/'([^']+)'/g)].map((m) => m[1] ?? '');
  return { include: args.filter((a) => !a.startsWith('!')), exclude: args.filter((a) => a.startsWith('!')).map((a) => a.slice(1)) };
}

function selected(file: string, globs: { include: string[]; exclude: string[] }): boolean {
  return globs.include.some((g) => path.matchesGlob(file, g)) && !globs.exclude.some((g) => path.matchesGlob(file, g));
}

test('test:unit selects unit files and none of the end-to-end or package files', (t) => {
  const script = pkg.scripts['test:unit'] ?? '';
  t.notRegex(script, /--match/, 'titles are not how files are chosen');
  const globs = globsOf(script.slice(script.indexOf('ava ')));
  const table: [string, boolean][] = [
    ['test/citadel/spiffe.test.ts', true],
    ['test/pilot/model.test.ts', true],
    ['test/e2e/two-cluster.e2e.test.ts', false],
    ['test/e2e/netns-isolation.e2e.test.ts', false],
    ['test/package/install.test.ts', false],
  ];
  for (const [file, want] of table) t.is(selected(file, globs), want, file);
});

test('npm start and npm test build first', (t) => {
  t.regex(pkg.scripts['prestart'] ?? '', /^npm run build\b/);
  t.regex(pkg.scripts['pretest'] ?? '', /^npm run build\b/);
  t.regex(pkg.scripts['build'] ?? '', /tsc -p tsconfig\.build\.json/);
  t.notRegex(pkg.scripts['start'] ?? '', /tsx/);
});

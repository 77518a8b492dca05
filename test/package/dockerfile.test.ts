import { readFile } from 'node:fs/promises';
import test from 'ava';

/**
 * The Dockerfile cannot be built here (no container engine), so its properties are checked by
 * parsing it: multi-stage on Node 24 slim, `npm ci` and the build in the first stage, only the
 * packed package and its production dependencies in the last, a numeric non-root user, and one
 * `meshfed` entrypoint. Binds nothing.
 */
interface Instruction {
  op: string;
  args: string;
  stage: number;
}

function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  const logical = text.replace(/\\\n/g, ' ').split('\n');
  for (const raw of logical) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m?.[1] || m[2] === undefined) throw new Error(`cannot parse Dockerfile line: ${line}`);
    const op = m[1].toUpperCase();
    if (op === 'FROM') stage++;
    out.push({ op, args: m[2].replace(/\s+/g, ' '), stage });
  }
  return out;
}

const dockerfile = parseDockerfile(await readFile('Dockerfile', 'utf8'));
const stages = dockerfile.filter((i) => i.op === 'FROM');
const last = stages.length - 1;
const inStage = (n: number, op: string): Instruction[] => dockerfile.filter((i) => i.stage === n && i.op === op);

test('multi-stage, every stage on Node 24 slim', (t) => {
  t.true(stages.length >= 2);
  for (const s of stages) t.regex(s.args, /^node:24-slim( AS [a-z]+)?$/);
});

test('the first stage installs with npm ci and builds (npm pack runs prepack: npm run build)', async (t) => {
  const runs = inStage(0, 'RUN').map((i) => i.args).join(' && ');
  t.regex(runs, /npm ci\b/);
  t.regex(runs, /npm pack\b/);
  const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { scripts: Record<string, string> };
  t.is(pkg.scripts['prepack'], 'npm run build');
  t.regex(runs, /npm ci --omit=dev/);
  // npm ci copies package.json and the lock before the sources: the dependency layer stays cached.
  const copies = inStage(0, 'COPY').map((i) => i.args);
  t.is(copies[0], 'package.json package-lock.json ./');
});

test('the last stage holds only the packed package with production dependencies', (t) => {
  const copies = inStage(last, 'COPY').map((i) => i.args);
  t.deepEqual(copies, ['--from=build /opt/meshfed /opt/meshfed']);
  const runs = inStage(last, 'RUN').map((i) => i.args).join(' ');
  t.notRegex(runs, /npm (ci|install)|tsc|tsx/);
});

test('runs as a numeric non-root user, with one meshfed entrypoint', (t) => {
  const users = inStage(last, 'USER');
  t.is(users.length, 1);
  const uid = Number((users[0]?.args ?? '').split(':')[0]);
  t.true(Number.isInteger(uid) && uid > 0, 'USER must be a non-zero numeric uid (runAsNonRoot verifies numbers only)');
  const entry = dockerfile.filter((i) => i.op === 'ENTRYPOINT');
  t.is(entry.length, 1);
  t.deepEqual(JSON.parse(entry[0]?.args ?? '') as unknown, ['meshfed']);
  t.regex(inStage(last, 'RUN').map((i) => i.args).join(' '), /ln -s \/opt\/meshfed\/bin\/meshfed\.js \/usr\/local\/bin\/meshfed/);
});

test('the build stage copies every source the package needs, and .dockerignore keeps local state out', async (t) => {
  const copied = inStage(0, 'COPY').flatMap((i) => i.args.split(' ').slice(0, -1));
  const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { files: string[] };
  for (const f of pkg.files) {
    const top = f.replace(/\/$/, '').split('/')[0] ?? '';
    if (top === 'dist') continue; // built inside the image
    t.true(copied.includes(top), `${f} (package.json files) is not copied into the build stage`);
  }
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'src']) t.true(copied.includes(f), f);
  const ignored = (await readFile('.dockerignore', 'utf8')).split('\n').map((l) => l.trim());
  for (const p of ['.git', 'node_modules', 'dist', '.tools']) t.true(ignored.includes(p), `.dockerignore must list ${p}`);
});

/** `meshfed sidecar --token-file` read at every CSR (a projected token rotates in place). Binds nothing. */
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { tokenFromFile } from '../../src/cli/commands/token-file.ts';

test('the token is read again at every call; an unreadable or empty file keeps the last one and says why', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-token-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'meshfed-token');
  await writeFile(file, 'first\n');
  const warnings: string[] = [];
  const token = tokenFromFile(file, { warn: (_o: unknown, msg?: string) => void warnings.push(msg ?? '') } as never);
  t.is(token(), 'first');
  await writeFile(file, 'rotated');
  t.is(token(), 'rotated', 'the kubelet rotated the token: the new one is sent');
  await writeFile(file, '');
  t.is(token(), 'rotated');
  await unlink(file);
  t.is(token(), 'rotated');
  t.deepEqual(warnings, ['--token-file is empty now; sending the last token read', 'cannot re-read --token-file; sending the last token read']);
});

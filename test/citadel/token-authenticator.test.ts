import path from 'node:path';
import { rm } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { bootstrapTokenAuthenticator } from '../../src/citadel/index.ts';
import { bearerToken } from '../../src/citadel/token-authenticator.ts';
import { tempDir, writeTokenFile } from './fixtures.ts';

function md(...values: string[]): grpc.Metadata {
  const m = new grpc.Metadata();
  for (const v of values) m.add('authorization', v);
  return m;
}

const headers: Array<[string, grpc.Metadata, string | undefined]> = [
  ['Bearer token', md('Bearer abc123'), 'abc123'],
  ['lowercase bearer', md('bearer abc123'), 'abc123'],
  ['no header', md(), undefined],
  ['Basic scheme', md('Basic abc123'), undefined],
  ['bare token', md('abc123'), undefined],
  ['empty token', md('Bearer '), undefined],
  ['token with a space', md('Bearer abc 123'), undefined],
  ['two headers', md('Bearer a', 'Bearer b'), undefined],
];

for (const [name, metadata, expected] of headers) {
  test(`bearerToken: ${name}`, (t) => {
    t.is(bearerToken(metadata), expected);
  });
}

test('bootstrapTokenAuthenticator maps tokens to identities and follows the file', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'tokens.json');
  const authenticate = bootstrapTokenAuthenticator(file);
  t.is(await authenticate(md('Bearer alpha')), undefined, 'missing file authenticates nobody');
  await writeTokenFile(file, { alpha: { namespace: 'default', serviceAccount: 'reviews' }, beta: { namespace: 'prod', serviceAccount: 'ratings' } });
  t.deepEqual(await authenticate(md('Bearer alpha')), { namespace: 'default', serviceAccount: 'reviews' });
  t.deepEqual(await authenticate(md('Bearer beta')), { namespace: 'prod', serviceAccount: 'ratings' });
  t.is(await authenticate(md('Bearer gamma')), undefined);
  t.is(await authenticate(md()), undefined);
  await writeTokenFile(file, { beta: { namespace: 'prod', serviceAccount: 'ratings' } });
  t.is(await authenticate(md('Bearer alpha')), undefined, 'a revoked token stops working');
  await rm(file);
  t.is(await authenticate(md('Bearer beta')), undefined, 'a removed file revokes every token');
});

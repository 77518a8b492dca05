/**
 * `meshfed citadel --auth kube`: the compiled CLI authenticates CSRs with TokenReview against the
 * Kubernetes list/watch test server (through a kubeconfig file); `--auth` options are checked at
 * the boundary. Loopback: 127.139.3.2.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { CertificateRequestError, requestCertificate } from '../../src/citadel/index.ts';
import { CONTROL_PLANE_SERVER_NAME } from '../../src/cli/control-plane-name.ts';
import { makeCa, tempDir } from '../citadel/fixtures.ts';
import { meshfed, startMeshfed } from '../support/cli.ts';
import { startKubeListWatchTestServer } from '../support/kube-list-watch-test-server.ts';
import { pollUntil } from '../pilot/support/wait.ts';

const HOST = '127.139.3.2';

test('meshfed citadel --auth kube issues certificates to service-account tokens that TokenReview accepts', async (t) => {
  const kube = await startKubeListWatchTestServer({ host: HOST, bearerToken: 'citadel-sa' });
  t.teardown(() => kube.close());
  kube.registerToken('cart-token', { username: 'system:serviceaccount:shop:cart', audiences: ['meshfed-ca'] });
  const dir = await tempDir(t);
  const { dir: caRoot, ca } = await makeCa(t, ['east']);
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{ name: test, cluster: { server: "${kube.url}", insecure-skip-tls-verify: true } }]`,
      'users: [{ name: citadel, user: { token: citadel-sa } }]',
      'contexts: [{ name: test, context: { cluster: test, user: citadel } }]',
      'current-context: test',
      '',
    ].join('\n'),
  );
  const p = startMeshfed(t, ['citadel', '--address', HOST, '--port', '0', '--ca-dir', path.join(caRoot, 'east'), '--auth', 'kube', '--kubeconfig', kubeconfig]);
  await pollUntil(() => /"port":\d+.*citadel ready/.test(p.output()) || p.exited(), 'citadel ready', 30_000);
  const port = /"port":(\d+)/.exec(p.output())?.[1];
  t.truthy(port, p.output());
  const ask = (token: string) =>
    requestCertificate({
      target: `${HOST}:${port}`,
      rootsPem: ca.rootPem,
      serverName: CONTROL_PLANE_SERVER_NAME,
      token,
      identity: { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'cart' },
      ttlSeconds: 600,
    });
  t.is((await ask('cart-token')).spiffeId, 'spiffe://cluster.local/ns/shop/sa/cart');
  const e = await t.throwsAsync(ask('stolen-token'));
  t.true(e instanceof CertificateRequestError);
  t.is((e as CertificateRequestError).grpcCode, grpc.status.UNAUTHENTICATED);
  t.true(kube.requests().some((r) => r.path === '/apis/authentication.k8s.io/v1/tokenreviews' && r.token === 'citadel-sa'));
});

const BAD: [string, string[], RegExp][] = [
  ['bootstrap without --tokens-file', [], /--tokens-file is required with --auth bootstrap/],
  ['kube with --tokens-file', ['--auth', 'kube', '--tokens-file', 'x.json'], /--tokens-file is used only with --auth bootstrap/],
  ['bootstrap with --kubeconfig', ['--tokens-file', 'x.json', '--kubeconfig', 'k'], /--kubeconfig is used only with --auth kube/],
  ['jwt without --token-key', ['--auth', 'jwt', '--token-issuer', 'meshfed://east'], /--token-key is required with --auth jwt/],
  ['jwt without --token-issuer', ['--auth', 'jwt', '--token-key', 'k.pem'], /--token-issuer is required with --auth jwt/],
  ['bootstrap with --token-key', ['--tokens-file', 'x.json', '--token-key', 'k.pem'], /--token-key is used only with --auth jwt/],
  ['an unknown mode', ['--auth', 'oidc'], /argument 'oidc' is invalid. Allowed choices are bootstrap, jwt, kube/],
];

for (const [what, extra, message] of BAD) {
  test(`meshfed citadel refuses ${what}`, async (t) => {
    const r = await meshfed(['citadel', '--address', HOST, '--ca-dir', '/nonexistent', ...extra]);
    t.not(r.code, 0);
    t.regex(r.stderr, message);
  });
}

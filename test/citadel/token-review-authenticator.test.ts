/**
 * Citadel in Kubernetes mode: a real Citadel over gRPC with TLS, authenticating callers with
 * TokenReview (audience meshfed-ca) against the Kubernetes list/watch test server.
 * Loopback: 127.139.3.1.
 */
import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import {
  CertificateRequestError,
  issueServingCertificate,
  requestCertificate,
  serviceAccountFromUsername,
  startCitadel,
  tokenReviewAuthenticator,
  type WorkloadIdentity,
} from '../../src/citadel/index.ts';
import { type KubeListWatchTestServer, startKubeListWatchTestServer } from '../support/kube-list-watch-test-server.ts';
import { makeCa, silentLogger, TRUST_DOMAIN } from './fixtures.ts';

const HOST = '127.139.3.1';
const SERVER_NAME = 'istiod.meshfed-system.svc';
const cart: WorkloadIdentity = { trustDomain: TRUST_DOMAIN, namespace: 'shop', serviceAccount: 'cart' };

interface Harness {
  kube: KubeListWatchTestServer;
  ask(token: string, identity?: WorkloadIdentity): Promise<{ spiffeId: string } | { grpcCode: number | undefined; message: string }>;
}

async function harness(t: ExecutionContext, audience?: string): Promise<Harness> {
  const { ca } = await makeCa(t);
  const kube = await startKubeListWatchTestServer({ host: HOST, bearerToken: 'citadel-own-token' });
  t.teardown(() => kube.close());
  const citadel = await startCitadel({
    host: HOST,
    port: 0,
    ca,
    trustDomain: TRUST_DOMAIN,
    authenticate: tokenReviewAuthenticator({ kubeConfig: kube.kubeConfig(), ...(audience !== undefined ? { audience } : {}) }),
    servingCert: issueServingCertificate({ ca, dnsNames: [SERVER_NAME], ipAddresses: [HOST], ttlSeconds: 3600 }),
    logger: silentLogger,
  });
  t.teardown(() => citadel.close());
  return {
    kube,
    async ask(token, identity = cart) {
      try {
        const b = await requestCertificate({ target: `${HOST}:${citadel.port}`, rootsPem: ca.rootPem, serverName: SERVER_NAME, token, identity, ttlSeconds: 600 });
        return { spiffeId: b.spiffeId };
      } catch (e: unknown) {
        if (e instanceof CertificateRequestError) return { grpcCode: e.grpcCode, message: e.message };
        throw e;
      }
    },
  };
}

test('a projected service-account token for meshfed-ca gets a certificate for its service account', async (t) => {
  const h = await harness(t);
  h.kube.registerToken('sa-token', { username: 'system:serviceaccount:shop:cart', groups: ['system:serviceaccounts', 'system:serviceaccounts:shop'], audiences: ['meshfed-ca'] });
  t.deepEqual(await h.ask('sa-token'), { spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart' });
  const reviews = h.kube.requests().filter((r) => r.path === '/apis/authentication.k8s.io/v1/tokenreviews');
  t.is(reviews.length, 1);
  t.is(reviews[0]?.token, 'citadel-own-token', "Citadel calls TokenReview with its own credentials, not the caller's");
  // The token names shop/cart; a CSR for another identity is refused.
  const other = await h.ask('sa-token', { ...cart, serviceAccount: 'payments' });
  t.like(other, { grpcCode: grpc.status.PERMISSION_DENIED });
});

test('refusals say why: unknown token, wrong audience, not a service account, no token', async (t) => {
  const h = await harness(t);
  h.kube.registerToken('api-token', { username: 'system:serviceaccount:shop:cart', audiences: ['https://kubernetes.default.svc.cluster.local'] });
  h.kube.registerToken('alice-token', { username: 'alice', groups: ['system:authenticated'], audiences: ['meshfed-ca'] });

  const unknown = await h.ask('no-such-token');
  t.like(unknown, { grpcCode: grpc.status.UNAUTHENTICATED });
  t.regex('message' in unknown ? unknown.message : '', /token review failed: \[invalid bearer token/);

  const wrongAudience = await h.ask('api-token');
  t.like(wrongAudience, { grpcCode: grpc.status.UNAUTHENTICATED });
  t.regex('message' in wrongAudience ? wrongAudience.message : '', /is invalid for the target audiences \["meshfed-ca"\]/);

  const alice = await h.ask('alice-token');
  t.like(alice, { grpcCode: grpc.status.PERMISSION_DENIED });
  t.regex('message' in alice ? alice.message : '', /"alice" is not a service account/);

  const none = await h.ask('');
  t.like(none, { grpcCode: grpc.status.UNAUTHENTICATED });
});

test('a configured audience is the one asked for', async (t) => {
  const h = await harness(t, 'istio-ca');
  h.kube.registerToken('istio-token', { username: 'system:serviceaccount:shop:cart', audiences: ['istio-ca'] });
  h.kube.registerToken('meshfed-token', { username: 'system:serviceaccount:shop:cart', audiences: ['meshfed-ca'] });
  t.deepEqual(await h.ask('istio-token'), { spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart' });
  t.like(await h.ask('meshfed-token'), { grpcCode: grpc.status.UNAUTHENTICATED });
});

test('an API server that cannot be reached is UNAVAILABLE, not a refusal', async (t) => {
  const h = await harness(t);
  h.kube.registerToken('sa-token', { username: 'system:serviceaccount:shop:cart', audiences: ['meshfed-ca'] });
  await h.kube.close();
  t.like(await h.ask('sa-token'), { grpcCode: grpc.status.UNAVAILABLE });
});

const USERNAMES: [string, { namespace: string; serviceAccount: string } | undefined][] = [
  ['system:serviceaccount:shop:cart', { namespace: 'shop', serviceAccount: 'cart' }],
  ['system:serviceaccount:kube-system:default', { namespace: 'kube-system', serviceAccount: 'default' }],
  ['system:serviceaccount:shop:cart.v2', { namespace: 'shop', serviceAccount: 'cart.v2' }],
  ['system:serviceaccount:shop', undefined],
  ['system:serviceaccount:shop:cart:extra', undefined],
  ['system:serviceaccount::cart', undefined],
  ['system:serviceaccount:Shop:cart', undefined],
  ['system:serviceaccounts:shop', undefined],
  ['alice', undefined],
  ['system:node:worker-1', undefined],
];

for (const [username, want] of USERNAMES) {
  test(`serviceAccountFromUsername(${JSON.stringify(username)})`, (t) => {
    t.deepEqual(serviceAccountFromUsername(username), want);
  });
}

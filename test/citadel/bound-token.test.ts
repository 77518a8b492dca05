/**
 * Bootstrap tokens bound to one workload: a real Citadel over gRPC with TLS, authenticating callers
 * with tokens the runner's way (ES256 JWTs signed with the cluster's key: sub, aud, iss, exp).
 * Each row mints a token, asks for a certificate and checks the gRPC status Citadel answers.
 * Loopback: 127.171.5.1.
 */
import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { SignJWT } from 'jose';
import { createPrivateKey } from 'node:crypto';
import {
  boundTokenAuthenticator,
  CertificateRequestError,
  generateTokenSigningKey,
  issueServingCertificate,
  mintBoundToken,
  requestCertificate,
  startCitadel,
  tokenIssuer,
  type WorkloadIdentity,
} from '../../src/citadel/index.ts';
import { makeCa, silentLogger, TRUST_DOMAIN } from './fixtures.ts';

const HOST = '127.171.5.1';
const SERVER_NAME = 'istiod.meshfed-system.svc';
const ISSUER = tokenIssuer('east');
const NOW = Date.parse('2026-12-04T03:00:00Z');
const KEY = generateTokenSigningKey();
const OTHER_KEY = generateTokenSigningKey();
const cart: WorkloadIdentity = { trustDomain: TRUST_DOMAIN, namespace: 'shop', serviceAccount: 'cart' };
const cartToken = { issuer: ISSUER, audience: 'meshfed-ca', namespace: 'shop', serviceAccount: 'cart', workload: 'cart-v1', now: NOW };

interface Row {
  name: string;
  token: () => Promise<string>;
  /** The identity the CSR asks for (default cart's). */
  asks?: WorkloadIdentity;
  /** Citadel's clock, ms after NOW (default: a minute in). */
  at?: number;
  expected: { spiffeId: string } | { grpcCode: grpc.status; message: RegExp };
}

const ROWS: Row[] = [
  { name: "a fresh token gets a certificate for the identity it names", token: () => mintBoundToken(KEY.privateKeyPem, cartToken), expected: { spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart' } },
  {
    name: 'a token just before its expiry still works',
    token: () => mintBoundToken(KEY.privateKeyPem, { ...cartToken, lifetimeSeconds: 600 }),
    at: 599_000,
    expected: { spiffeId: 'spiffe://cluster.local/ns/shop/sa/cart' },
  },
  {
    name: 'an expired token → UNAUTHENTICATED',
    token: () => mintBoundToken(KEY.privateKeyPem, { ...cartToken, lifetimeSeconds: 600 }),
    at: 700_000,
    expected: { grpcCode: grpc.status.UNAUTHENTICATED, message: /token expired/ },
  },
  {
    name: "workload A's token asking for B's identity → PERMISSION_DENIED",
    token: () => mintBoundToken(KEY.privateKeyPem, cartToken),
    asks: { ...cart, serviceAccount: 'payments' },
    expected: { grpcCode: grpc.status.PERMISSION_DENIED, message: /payments/ },
  },
  {
    name: "A's token asking for the same service account in another namespace → PERMISSION_DENIED",
    token: () => mintBoundToken(KEY.privateKeyPem, cartToken),
    asks: { ...cart, namespace: 'bank' },
    expected: { grpcCode: grpc.status.PERMISSION_DENIED, message: /bank/ },
  },
  {
    name: 'a token for another audience → UNAUTHENTICATED',
    token: () => mintBoundToken(KEY.privateKeyPem, { ...cartToken, audience: 'https://kubernetes.default.svc' }),
    expected: { grpcCode: grpc.status.UNAUTHENTICATED, message: /claim "aud"/ },
  },
  {
    name: "a token signed with another cluster's key → UNAUTHENTICATED",
    token: () => mintBoundToken(OTHER_KEY.privateKeyPem, cartToken),
    expected: { grpcCode: grpc.status.UNAUTHENTICATED, message: /signature/ },
  },
  {
    name: 'a token of another issuer → UNAUTHENTICATED',
    token: () => mintBoundToken(KEY.privateKeyPem, { ...cartToken, issuer: tokenIssuer('west') }),
    expected: { grpcCode: grpc.status.UNAUTHENTICATED, message: /claim "iss"/ },
  },
  {
    name: 'a token used before it was issued (nbf) → UNAUTHENTICATED',
    token: () => mintBoundToken(KEY.privateKeyPem, { ...cartToken, now: NOW + 3_600_000 }),
    expected: { grpcCode: grpc.status.UNAUTHENTICATED, message: /claim "nbf"/ },
  },
  {
    name: 'a token without exp → UNAUTHENTICATED',
    token: () =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuer(ISSUER)
        .setAudience('meshfed-ca')
        .setSubject('system:serviceaccount:shop:cart')
        .sign(createPrivateKey(KEY.privateKeyPem)),
    expected: { grpcCode: grpc.status.UNAUTHENTICATED, message: /claim "exp"/ },
  },
  {
    name: 'a subject that is not a service account → UNAUTHENTICATED',
    token: () =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuer(ISSUER)
        .setAudience('meshfed-ca')
        .setSubject('alice')
        .setExpirationTime(Math.floor(NOW / 1000) + 600)
        .sign(createPrivateKey(KEY.privateKeyPem)),
    expected: { grpcCode: grpc.status.UNAUTHENTICATED, message: /is not system:serviceaccount/ },
  },
  {
    name: 'an unsigned token (alg none) → UNAUTHENTICATED',
    token: async () => {
      const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
      return `${b64({ alg: 'none' })}.${b64({ iss: ISSUER, aud: 'meshfed-ca', sub: 'system:serviceaccount:shop:cart', exp: Math.floor(NOW / 1000) + 600 })}.`;
    },
    expected: { grpcCode: grpc.status.UNAUTHENTICATED, message: /token rejected/ },
  },
  { name: 'not a JWT at all → UNAUTHENTICATED', token: async () => 'opaque-bootstrap-token', expected: { grpcCode: grpc.status.UNAUTHENTICATED, message: /token rejected/ } },
];

for (const row of ROWS) {
  test(row.name, async (t) => {
    const { ca } = await makeCa(t);
    const at = NOW + (row.at ?? 60_000);
    const citadel = await startCitadel({
      host: HOST,
      port: 0,
      ca,
      trustDomain: TRUST_DOMAIN,
      authenticate: await boundTokenAuthenticator({ publicKeyPem: KEY.publicKeyPem, issuer: ISSUER, now: () => at, logger: silentLogger }),
      servingCert: issueServingCertificate({ ca, dnsNames: [SERVER_NAME], ipAddresses: [HOST], ttlSeconds: 3600 }),
      logger: silentLogger,
    });
    t.teardown(() => citadel.close());
    let got: { spiffeId: string } | { grpcCode: number | undefined; message: string };
    try {
      const b = await requestCertificate({ target: `${HOST}:${citadel.port}`, rootsPem: ca.rootPem, serverName: SERVER_NAME, token: await row.token(), identity: row.asks ?? cart, ttlSeconds: 600 });
      got = { spiffeId: b.spiffeId };
    } catch (e: unknown) {
      if (!(e instanceof CertificateRequestError)) throw e;
      got = { grpcCode: e.grpcCode, message: e.message };
    }
    if ('spiffeId' in row.expected) {
      t.deepEqual(got, row.expected);
      return;
    }
    t.like(got, { grpcCode: row.expected.grpcCode });
    t.regex('message' in got ? got.message : '', row.expected.message);
  });
}

test('options are checked once: no key, an empty issuer or audience', async (t) => {
  await t.throwsAsync(boundTokenAuthenticator({ issuer: ISSUER }), { message: /publicKeyPem/ });
  await t.throwsAsync(boundTokenAuthenticator({ publicKeyPem: KEY.publicKeyPem, issuer: '' }), { message: /issuer/ });
  await t.throwsAsync(boundTokenAuthenticator({ publicKeyPem: KEY.publicKeyPem, issuer: ISSUER, audience: '' }), { message: /audience/ });
  await t.throwsAsync(mintBoundToken(KEY.privateKeyPem, { ...cartToken, lifetimeSeconds: 0 }), { message: /lifetimeSeconds/ });
});

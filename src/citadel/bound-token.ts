import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { AuthenticationRefusal, Authenticator, CallerIdentity } from './ca-service.ts';
import { bearerToken } from './token-authenticator.ts';

/**
 * Bootstrap tokens bound to one workload, in the shape of a Kubernetes projected service-account
 * token: a JWT (ES256) signed with a per-cluster key, whose `sub` is
 * `system:serviceaccount:<namespace>:<service account>`, `aud` Citadel's audience, `iss` the
 * cluster's issuer, with `iat`/`exp` (short-lived: one hour unless told) and the workload's name
 * in the `kubernetes.io` claim as Kubernetes writes its pod. Citadel then signs a CSR only for
 * the identity the token names (ca-service.ts compares it with the CSR), only before `exp`.
 */

/** The audience Citadel expects by default (the same as `--auth kube`'s). */
export const DEFAULT_TOKEN_AUDIENCE = 'meshfed-ca';
/** Default token life (Kubernetes' projected tokens default to one hour too). */
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 3600;
/** Clock skew tolerated on `exp` / `nbf` / `iat`. */
const CLOCK_TOLERANCE_SECONDS = 5;
const ALG = 'ES256';
const SUBJECT = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/;

/** The issuer of a cluster's bound tokens. */
export function tokenIssuer(cluster: string): string {
  return `meshfed://${cluster}`;
}

/** A fresh per-cluster token signing key pair, as PEM (PKCS#8 private key, SPKI public key). */
export function generateTokenSigningKey(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** What one bound token says. */
export interface BoundTokenClaims {
  issuer: string;
  audience: string;
  namespace: string;
  serviceAccount: string;
  workload: string;
  lifetimeSeconds?: number;
  /** Issue time in ms since the epoch (default now). */
  now?: number;
}

/** Mints a bound token with `privateKeyPem` (the runner, one per workload). */
export async function mintBoundToken(privateKeyPem: string, c: BoundTokenClaims): Promise<string> {
  const iat = Math.floor((c.now ?? Date.now()) / 1000);
  const life = c.lifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS;
  if (!Number.isInteger(life) || life <= 0) throw new RangeError(`invalid lifetimeSeconds ${life}`);
  if (c.issuer === '' || c.audience === '') throw new RangeError('invalid issuer or audience: must not be empty');
  return new SignJWT({ 'kubernetes.io': { namespace: c.namespace, serviceaccount: { name: c.serviceAccount }, pod: { name: c.workload } } })
    .setProtectedHeader({ alg: ALG, typ: 'JWT' })
    .setIssuer(c.issuer)
    .setAudience(c.audience)
    .setSubject(`system:serviceaccount:${c.namespace}:${c.serviceAccount}`)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + life)
    .sign(createPrivateKey(privateKeyPem));
}

/** Options of boundTokenAuthenticator, validated once here. */
export interface BoundTokenAuthenticatorOptions {
  /** The cluster's token signing public key (SPKI PEM), or a file holding it. */
  publicKeyPem?: string;
  publicKeyFile?: string;
  issuer: string;
  audience?: string;
  /** Clock in ms since the epoch (tests). */
  now?: () => number;
  logger?: Logger;
}

function unauthenticated(reason: string): AuthenticationRefusal {
  return { refused: 'unauthenticated', reason };
}

/**
 * Authenticates `authorization: Bearer <bound token>`: signature with the cluster's key (ES256
 * only), issuer, audience, `exp` / `nbf`, and a `sub` naming one service account. Anything else is
 * UNAUTHENTICATED with the reason (expired, wrong audience, bad signature, …); a valid token yields
 * its identity, which the CSR must then carry (else PERMISSION_DENIED).
 */
export async function boundTokenAuthenticator(opts: BoundTokenAuthenticatorOptions): Promise<Authenticator> {
  if (opts.issuer === '') throw new RangeError('invalid issuer: must not be empty');
  const audience = opts.audience ?? DEFAULT_TOKEN_AUDIENCE;
  if (audience === '') throw new RangeError('invalid audience: must not be empty');
  let pem = opts.publicKeyPem;
  if (pem === undefined && opts.publicKeyFile !== undefined) pem = await readFile(opts.publicKeyFile, 'utf8');
  if (pem === undefined) throw new RangeError('invalid publicKeyPem: a public key or publicKeyFile is required');
  const key: KeyObject = createPublicKey(pem);
  const now = opts.now;
  return async (metadata): Promise<CallerIdentity | AuthenticationRefusal | undefined> => {
    const token = bearerToken(metadata);
    if (token === undefined) return undefined;
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: [ALG],
        issuer: opts.issuer,
        audience,
        requiredClaims: ['exp', 'sub'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        ...(now ? { currentDate: new Date(now()) } : {}),
      });
      const m = SUBJECT.exec(payload.sub ?? '');
      if (!m) return unauthenticated(`token subject ${JSON.stringify(payload.sub)} is not system:serviceaccount:<namespace>:<name>`);
      return { namespace: m[1] ?? '', serviceAccount: m[3] ?? '' };
    } catch (e: unknown) {
      if (e instanceof joseErrors.JWTExpired) return unauthenticated('token expired');
      if (e instanceof joseErrors.JWTClaimValidationFailed) return unauthenticated(`token claim "${e.claim}" rejected: ${e.reason}`);
      if (e instanceof joseErrors.JWSSignatureVerificationFailed) return unauthenticated('token signature does not verify with this cluster\'s key');
      if (e instanceof joseErrors.JOSEError) return unauthenticated(`token rejected: ${e.code}`);
      opts.logger?.warn({ err: errorMessage(e) }, 'bound token check failed');
      return unauthenticated('token rejected');
    }
  };
}

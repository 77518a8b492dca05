/**
 * Citadel's Kubernetes mode: the caller's bearer token is a projected service-account token, and
 * the API server decides whether it is valid, with a TokenReview (authentication.k8s.io/v1) for the
 * audience `meshfed-ca`, the way istiod authenticates CSRs with audience `istio-ca`.
 *
 * - no bearer token, a token the API server does not accept, or a token not issued for the
 *   audience: refused as unauthenticated, with the API server's reason;
 * - an authenticated user that is not a service account (`system:serviceaccount:<ns>:<sa>`):
 *   refused as permission denied;
 * - a failing TokenReview call (API server down, 403 for Citadel's own account): thrown, which
 *   Citadel answers with UNAVAILABLE.
 */
import { AuthenticationV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { AuthenticationRefusal, Authenticator, CallerIdentity } from './ca-service.ts';
import { bearerToken } from './token-authenticator.ts';

/** Options of tokenReviewAuthenticator. */
export interface TokenReviewAuthenticatorOptions {
  /** Where the API server is, and Citadel's own credentials for calling TokenReview. */
  kubeConfig: KubeConfig;
  /** The audience tokens must be issued for; default `meshfed-ca`. */
  audience?: string;
}

const SA_PREFIX = 'system:serviceaccount:';
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** `system:serviceaccount:<namespace>:<name>` → identity; undefined for any other user name. */
export function serviceAccountFromUsername(username: string): CallerIdentity | undefined {
  if (!username.startsWith(SA_PREFIX)) return undefined;
  const parts = username.slice(SA_PREFIX.length).split(':');
  if (parts.length !== 2) return undefined;
  const [namespace = '', serviceAccount = ''] = parts;
  if (!LABEL.test(namespace) || namespace.length > 63) return undefined;
  if (!SUBDOMAIN.test(serviceAccount) || serviceAccount.length > 253) return undefined;
  return { namespace, serviceAccount };
}

/** An Authenticator that asks the API server about each caller's token. */
export function tokenReviewAuthenticator(opts: TokenReviewAuthenticatorOptions): Authenticator {
  const audience = opts.audience ?? 'meshfed-ca';
  if (audience === '') throw new TypeError('invalid audience: must not be empty');
  const api = opts.kubeConfig.makeApiClient(AuthenticationV1Api);
  return async (metadata): Promise<CallerIdentity | AuthenticationRefusal> => {
    const token = bearerToken(metadata);
    if (token === undefined) return { refused: 'unauthenticated', reason: 'missing bearer token (a projected service-account token)' };
    const review = await api.createTokenReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [audience] } },
    });
    const status = review.status;
    if (!status?.authenticated) {
      return { refused: 'unauthenticated', reason: `token review failed: ${status?.error ?? 'not authenticated'}` };
    }
    // The API server returns the audiences the token is valid for; an empty list means its own.
    if (!(status.audiences ?? []).includes(audience)) {
      return { refused: 'unauthenticated', reason: `token is not valid for the audience ${audience}` };
    }
    const username = status.user?.username ?? '';
    const identity = serviceAccountFromUsername(username);
    if (!identity) return { refused: 'permission-denied', reason: `${JSON.stringify(username)} is not a service account (system:serviceaccount:<namespace>:<name>)` };
    return identity;
  };
}

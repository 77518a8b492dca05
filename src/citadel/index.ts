/**
 * Citadel: meshfed's CA in Istio's plug-in model. One shared root; per cluster an intermediate
 * that signs workload CSRs over gRPC (istio.v1.auth.IstioCertificateService); SPIFFE identities;
 * client-side certificate requests and rotation for sidecars; trust-bundle checks.
 */
export type { CaMaterial } from './ca-files.ts';
export { loadCa } from './ca-files.ts';
export { watchCaFolder } from './ca-folder-watch.ts';
export type { InitCaOptions } from './ca-init.ts';
export {
  type CaRotationOptions,
  dropOldRoot,
  distributeRoots,
  type PhaseReport,
  reissueIntermediates,
  ROTATION_FILES,
  ROTATION_PHASES,
  type RotationPhase,
  runRotationPhase,
} from './ca-rotation.ts';
export { initCa } from './ca-init.ts';
export type { ServingCertificate, ServingCertificateOptions, SignWorkloadCsrOptions } from './ca-signer.ts';
export { issueServingCertificate, signWorkloadCsr } from './ca-signer.ts';
export type { AuthenticationRefusal, Authenticator, CallerIdentity, CitadelServiceOptions } from './ca-service.ts';
export { createCitadelService } from './ca-service.ts';
export type { CertBundle, RequestCertificateOptions } from './certificate-client.ts';
export { requestCertificate } from './certificate-client.ts';
export type { CertificateRotatorOptions, RotatorClock } from './certificate-rotator.ts';
export { CertificateRotator } from './certificate-rotator.ts';
export type { RunningCitadel, StartCitadelOptions } from './citadel-server.ts';
export { startCitadel } from './citadel-server.ts';
export {
  CaMaterialError,
  CaRotationError,
  CertificateRejectedError,
  CertificateRequestError,
  CitadelError,
  CsrInvalidError,
  IdentityMismatchError,
  InvalidSpiffeIdError,
  ValidityInvalidError,
} from './errors.ts';
export type { WorkloadIdentity } from './spiffe.ts';
export { formatSpiffeId, parseSpiffeId, spiffeIdFromCertificate } from './spiffe.ts';
export { DEFAULT_KEY_ALGORITHM, KEY_ALGORITHMS, type KeyAlgorithm } from './key-algorithm.ts';
export { bootstrapTokenAuthenticator } from './token-authenticator.ts';
export {
  type BoundTokenAuthenticatorOptions,
  type BoundTokenClaims,
  boundTokenAuthenticator,
  DEFAULT_TOKEN_AUDIENCE,
  DEFAULT_TOKEN_LIFETIME_SECONDS,
  generateTokenSigningKey,
  mintBoundToken,
  tokenIssuer,
} from './bound-token.ts';
export { serviceAccountFromUsername, type TokenReviewAuthenticatorOptions, tokenReviewAuthenticator } from './token-review-authenticator.ts';
export type { PeerChain, VerifyPeerChainOptions } from './trust-bundle.ts';
export { chainRootFingerprint, rootFingerprints, rootsFromPem, sameRoot, verifyPeerChain } from './trust-bundle.ts';
export { type IdentityPem, MemoryCertificateProvider } from './certificate-provider.ts';
export { meshChannelCredentials, meshServerCredentials } from './mesh-credentials.ts';

import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { errorMessage } from '../common/errors.ts';
import { createLogger, type Logger } from '../common/log.ts';
import { CERTIFICATE_SERVICE_NAME, certificateServiceDefinition } from './ca-service-definition.ts';
import type { CaMaterial } from './ca-files.ts';
import { signWorkloadCsr } from './ca-signer.ts';
import type { CitadelError } from './errors.ts';
import { formatSpiffeId, type WorkloadIdentity } from './spiffe.ts';

export { CERTIFICATE_SERVICE_NAME, certificateServiceDefinition };

/**
 * The identity an authenticator vouches for. `trustDomain` may be omitted (a bootstrap token
 * names only namespace and service account); the service then uses its own trust domain, and
 * rejects a caller whose stated trust domain differs.
 */
export type CallerIdentity = Omit<WorkloadIdentity, 'trustDomain'> & { trustDomain?: string };

/**
 * An authenticator's refusal with its reason, sent to the caller: `unauthenticated` when the
 * credentials are missing or not accepted (→ UNAUTHENTICATED), `permission-denied` when they name
 * someone who may not get a workload certificate (→ PERMISSION_DENIED).
 */
export interface AuthenticationRefusal {
  refused: 'unauthenticated' | 'permission-denied';
  reason: string;
}

/**
 * Decides who is calling from the call's metadata. Returns undefined when the caller cannot be
 * authenticated (→ UNAUTHENTICATED), or a refusal with its reason. A thrown error is logged and
 * answered with UNAVAILABLE.
 */
export type Authenticator = (
  metadata: grpc.Metadata,
) => Promise<CallerIdentity | AuthenticationRefusal | undefined> | CallerIdentity | AuthenticationRefusal | undefined;

/** Options of createCitadelService, validated by the caller (control plane or startCitadel). */
export interface CitadelServiceOptions {
  /** The signing CA, or a function returning the one in use now (a control plane reloading its CA folder). */
  ca: CaMaterial | (() => CaMaterial);
  trustDomain: string;
  authenticate: Authenticator;
  logger?: Logger;
}


const RequestSchema = z.object({
  csr: z.string(),
  // int64 arrives as a decimal string (longs: String).
  validity_duration: z.union([z.string(), z.number()]).optional(),
});

const STATUS_BY_CODE: Record<string, grpc.status> = {
  CSR_INVALID: grpc.status.INVALID_ARGUMENT,
  VALIDITY_INVALID: grpc.status.INVALID_ARGUMENT,
  IDENTITY_MISMATCH: grpc.status.PERMISSION_DENIED,
};

function failure(code: grpc.status, details: string): Partial<grpc.StatusObject> {
  return { code, details };
}

/**
 * Builds Citadel's CreateCertificate service for a gRPC server (the control plane's shared TLS
 * server on 15012, or startCitadel). Per call: authenticate → parse request → sign → respond with
 * [leaf, intermediate…, root]. Status codes: UNAUTHENTICATED (no or unknown credentials),
 * INVALID_ARGUMENT (bad CSR or validity), PERMISSION_DENIED (CSR or authenticator names another
 * identity), UNAVAILABLE (authenticator failed).
 */
export function createCitadelService(opts: CitadelServiceOptions): {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
} {
  const log = opts.logger ?? createLogger('citadel');
  const handler = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>): void => {
    void (async () => {
      let caller: CallerIdentity | AuthenticationRefusal | undefined;
      try {
        caller = await opts.authenticate(call.metadata);
      } catch (e) {
        log.error({ err: errorMessage(e) }, 'authenticator failed');
        return callback(failure(grpc.status.UNAVAILABLE, 'authentication is unavailable'));
      }
      if (!caller) return callback(failure(grpc.status.UNAUTHENTICATED, 'missing or invalid credentials'));
      if ('refused' in caller) {
        log.warn({ reason: caller.reason }, 'caller refused');
        const code = caller.refused === 'unauthenticated' ? grpc.status.UNAUTHENTICATED : grpc.status.PERMISSION_DENIED;
        return callback(failure(code, caller.reason));
      }
      if (caller.trustDomain !== undefined && caller.trustDomain !== opts.trustDomain) {
        return callback(failure(grpc.status.PERMISSION_DENIED, `caller's trust domain is not ${opts.trustDomain}`));
      }
      const identity: WorkloadIdentity = {
        trustDomain: opts.trustDomain,
        namespace: caller.namespace,
        serviceAccount: caller.serviceAccount,
      };
      let spiffeId: string;
      try {
        spiffeId = formatSpiffeId(identity);
      } catch (e) {
        return callback(failure(grpc.status.PERMISSION_DENIED, errorMessage(e)));
      }
      const request = RequestSchema.safeParse(call.request);
      if (!request.success) return callback(failure(grpc.status.INVALID_ARGUMENT, 'malformed request'));
      const validity = Number(request.data.validity_duration ?? 0);
      const ca = typeof opts.ca === 'function' ? opts.ca() : opts.ca;
      const signedChain = signWorkloadCsr({ ca, csrPem: request.data.csr, identity, ttlSeconds: validity });
      if (!signedChain.ok) {
        const err: CitadelError = signedChain.errors;
        log.warn({ spiffeId, code: err.code, err: err.message }, 'certificate request refused');
        return callback(failure(STATUS_BY_CODE[err.code] ?? grpc.status.INTERNAL, err.message));
      }
      log.info({ spiffeId, validitySeconds: validity }, 'issued workload certificate');
      callback(null, { cert_chain: signedChain.value.certChainPem });
    })().catch((e: unknown) => {
      log.error({ err: errorMessage(e) }, 'CreateCertificate failed');
      callback(failure(grpc.status.INTERNAL, 'internal error'));
    });
  };
  return { definition: certificateServiceDefinition(), implementation: { CreateCertificate: handler } };
}

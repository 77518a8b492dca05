import { z } from 'zod';

/**
 * Istio's `ClientTLSSettings` (DestinationRule `trafficPolicy.tls`, at top level, per port and per
 * subset), strict. Modes: DISABLE (plaintext), SIMPLE and MUTUAL (TLS origination with files named
 * by path), ISTIO_MUTUAL (mesh mTLS with Citadel certificates). `credentialName` and `caCrl` are
 * valid Istio that meshfed does not honour yet (`params.unsupported`).
 */

const UNSUPPORTED = { unsupported: true } as const;
const path = z.string().min(1, 'must not be empty');

export const clientTlsSchema = z
  .strictObject({
    mode: z.enum(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'], 'must be one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL').optional(),
    clientCertificate: path.optional(),
    privateKey: path.optional(),
    caCertificates: path.optional(),
    credentialName: z
      .string()
      .optional()
      .refine((v) => v === undefined, { message: 'credentialName (certificates from a Kubernetes secret) is not supported yet: use file paths', params: UNSUPPORTED }),
    caCrl: z
      .string()
      .optional()
      .refine((v) => v === undefined, { message: 'caCrl (certificate revocation lists) is not supported yet', params: UNSUPPORTED }),
    subjectAltNames: z.array(z.string().min(1, 'must not be empty')).optional(),
    sni: z.string().min(1, 'must not be empty').optional(),
    insecureSkipVerify: z.boolean('must be true or false').optional(),
  })
  .superRefine((tls, ctx) => {
    const mode = tls.mode ?? 'DISABLE';
    const set = (keys: readonly (keyof typeof tls)[]): (keyof typeof tls)[] => keys.filter((k) => tls[k] !== undefined);
    if (mode === 'DISABLE') {
      for (const k of set(['clientCertificate', 'privateKey', 'caCertificates', 'subjectAltNames', 'sni', 'insecureSkipVerify'])) {
        ctx.addIssue({ code: 'custom', path: [k], message: 'has no effect with mode DISABLE' });
      }
      return;
    }
    if (mode === 'ISTIO_MUTUAL') {
      for (const k of set(['clientCertificate', 'privateKey', 'caCertificates'])) {
        ctx.addIssue({ code: 'custom', path: [k], message: 'cannot be set with ISTIO_MUTUAL (Citadel issues the mesh certificates)' });
      }
      for (const k of set(['sni', 'subjectAltNames', 'insecureSkipVerify'])) {
        ctx.addIssue({
          code: 'custom',
          path: [k],
          message: 'is not supported with ISTIO_MUTUAL yet (meshfed sets the mesh SNI and checks SPIFFE identities itself)',
          params: UNSUPPORTED,
        });
      }
      return;
    }
    if (mode === 'SIMPLE') {
      for (const k of set(['clientCertificate', 'privateKey'])) ctx.addIssue({ code: 'custom', path: [k], message: 'needs mode MUTUAL' });
    } else {
      for (const k of ['clientCertificate', 'privateKey'] as const) {
        if (tls[k] === undefined) ctx.addIssue({ code: 'custom', path: [k], message: 'required with mode MUTUAL' });
      }
    }
    if (tls.insecureSkipVerify === true) {
      for (const k of set(['caCertificates', 'subjectAltNames'])) ctx.addIssue({ code: 'custom', path: [k], message: 'has no effect with insecureSkipVerify' });
    }
  });

export type ClientTlsDoc = z.infer<typeof clientTlsSchema>;

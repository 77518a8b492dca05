import { z } from 'zod';

/**
 * Istio's RequestAuthentication spec (`security.istio.io/v1`, `v1beta1`), strict: unknown fields
 * are reported with their path, and valid Istio meshfed does not honour is marked
 * `params.unsupported` (`fromCookies`, `timeout`, `targetRef(s)`, a rule with neither `jwks` nor
 * `jwksUri`, which istiod would resolve by OpenID discovery). Istio's own rules are kept: `issuer`
 * required, `jwks` a JSON Web Key Set, `jwksUri` an http(s) URL, header names non-empty.
 */

const UNSUPPORTED = { unsupported: true } as const;
const nonEmpty = z.string().min(1, 'must not be empty');
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
const headerName = z.string().regex(HEADER_NAME, 'must be an HTTP header name');
const notSupported = (what: string) => z.unknown().refine((v) => v === undefined, { message: `${what} is not supported`, params: UNSUPPORTED });

const jwksText = z.string().superRefine((text, ctx) => {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON Web Key Set (JSON)' });
    return;
  }
  const keys = typeof v === 'object' && v !== null ? (v as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) ctx.addIssue({ code: 'custom', message: 'must be a JSON Web Key Set: an object with a keys array' });
});

const jwksUri = z.string().superRefine((text, ctx) => {
  let u: URL | undefined;
  try {
    u = new URL(text);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:')) ctx.addIssue({ code: 'custom', message: 'must be an http or https URL' });
});

export const jwtRuleSchema = z
  .strictObject({
    issuer: nonEmpty,
    audiences: z.array(nonEmpty).optional(),
    jwksUri: jwksUri.optional(),
    jwks: jwksText.optional(),
    fromHeaders: z.array(z.strictObject({ name: headerName, prefix: z.string().optional() })).min(1, 'must not be empty when set').optional(),
    fromParams: z.array(nonEmpty).min(1, 'must not be empty when set').optional(),
    outputPayloadToHeader: headerName.optional(),
    forwardOriginalToken: z.boolean().optional(),
    outputClaimToHeaders: z
      .array(z.strictObject({ header: headerName, claim: z.string().regex(/^[^.]+(\.[^.]+)*$/, 'must be a claim name (nested claims joined by .)') }))
      .optional(),
    fromCookies: notSupported('fromCookies'),
    timeout: notSupported('timeout (Pilot fetches jwksUri itself)'),
  })
  .superRefine((r, ctx) => {
    if (r.jwks !== undefined && r.jwksUri !== undefined) ctx.addIssue({ code: 'custom', path: ['jwksUri'], message: 'give one of jwks and jwksUri, not both' });
    if (r.jwks === undefined && r.jwksUri === undefined) {
      ctx.addIssue({ code: 'custom', path: ['jwksUri'], message: 'one of jwks and jwksUri is required (OpenID discovery of the issuer is not supported)', params: UNSUPPORTED });
    }
  });

export const requestAuthenticationSpecSchema = z.strictObject({
  selector: z.strictObject({ matchLabels: z.record(z.string(), z.string()).optional() }).optional(),
  jwtRules: z.array(jwtRuleSchema).optional(),
  targetRef: notSupported('targetRef (meshfed has no Gateway API)'),
  targetRefs: notSupported('targetRefs (meshfed has no Gateway API)'),
});

export type RequestAuthenticationSpecDoc = z.infer<typeof requestAuthenticationSpecSchema>;

import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * Istio's AuthorizationPolicy spec (`security.istio.io/v1`, `v1beta1`), strict: unknown fields are
 * reported with their path. `params.unsupported` marks valid Istio meshfed does not honour
 * (`targetRef`/`targetRefs`: meshfed has no Gateway API). Istio's own validation rules are kept:
 * `provider` only and always with CUSTOM, ports as numbers, IP blocks as addresses or CIDRs,
 * `when` keys from Istio's list with at least one of `values`/`notValues`.
 */

const UNSUPPORTED = { unsupported: true } as const;

const nonEmpty = z.string().min(1, 'must not be empty');
const strings = z.array(nonEmpty).min(1, 'must not be empty when set').optional();

function cidrProblem(text: string): string | undefined {
  const [address = '', prefix, ...rest] = text.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return `"${text}" is not an IP address or CIDR`;
  if (prefix === undefined) return undefined;
  const n = /^\d+$/.test(prefix) ? Number(prefix) : Number.NaN;
  return Number.isInteger(n) && n <= (family === 4 ? 32 : 128) ? undefined : `"${text}" has an invalid prefix length`;
}

const ipBlocks = z
  .array(
    z.string().superRefine((v, ctx) => {
      const p = cidrProblem(v);
      if (p !== undefined) ctx.addIssue({ code: 'custom', message: p });
    }),
  )
  .min(1, 'must not be empty when set')
  .optional();

const PORT = /^\d+$/;
const ports = z
  .array(z.string().refine((p) => PORT.test(p) && Number(p) >= 1 && Number(p) <= 65535, 'must be a port number 1..65535'))
  .min(1, 'must not be empty when set')
  .optional();

export const sourceSchema = z.strictObject({
  principals: strings,
  notPrincipals: strings,
  requestPrincipals: strings,
  notRequestPrincipals: strings,
  namespaces: strings,
  notNamespaces: strings,
  ipBlocks,
  notIpBlocks: ipBlocks,
  remoteIpBlocks: ipBlocks,
  notRemoteIpBlocks: ipBlocks,
  serviceAccounts: z.unknown().refine((v) => v === undefined, { message: 'serviceAccounts is not supported yet (use principals)', params: UNSUPPORTED }),
  notServiceAccounts: z.unknown().refine((v) => v === undefined, { message: 'notServiceAccounts is not supported yet (use notPrincipals)', params: UNSUPPORTED }),
});

export const operationSchema = z.strictObject({
  hosts: strings,
  notHosts: strings,
  ports,
  notPorts: ports,
  methods: strings,
  notMethods: strings,
  paths: strings,
  notPaths: strings,
});

/** `when` keys Istio defines for HTTP and TCP (request.headers[...] and claims[...] take a name). */
const CONDITION_KEY =
  /^(request\.headers\[[^\]]+\]|source\.ip|source\.namespace|source\.principal|remote\.ip|destination\.ip|destination\.port|request\.auth\.principal|request\.auth\.audiences|request\.auth\.presenter|request\.auth\.claims(\[[^\]]+\])+|connection\.sni)$/;

export const conditionSchema = z
  .strictObject({
    key: z.string().refine((k) => CONDITION_KEY.test(k), {
      message:
        'is not supported: use request.headers[<name>], source.ip, source.namespace, source.principal, remote.ip, destination.ip, destination.port, request.auth.principal, request.auth.audiences, request.auth.presenter, request.auth.claims[<name>] or connection.sni',
    }),
    values: strings,
    notValues: strings,
  })
  .superRefine((c, ctx) => {
    if (c.values === undefined && c.notValues === undefined) ctx.addIssue({ code: 'custom', message: 'one of values or notValues is required' });
    if (c.key === 'destination.port') {
      for (const [field, list] of [['values', c.values], ['notValues', c.notValues]] as const) {
        list?.forEach((v, i) => {
          if (!PORT.test(v)) ctx.addIssue({ code: 'custom', path: [field, i], message: 'must be a port number' });
        });
      }
    }
    if (c.key === 'source.ip' || c.key === 'remote.ip' || c.key === 'destination.ip') {
      for (const [field, list] of [['values', c.values], ['notValues', c.notValues]] as const) {
        list?.forEach((v, i) => {
          const p = cidrProblem(v);
          if (p !== undefined) ctx.addIssue({ code: 'custom', path: [field, i], message: p });
        });
      }
    }
  });

export const ruleSchema = z.strictObject({
  from: z.array(z.strictObject({ source: sourceSchema })).optional(),
  to: z.array(z.strictObject({ operation: operationSchema })).optional(),
  when: z.array(conditionSchema).optional(),
});

const ACTIONS = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'] as const;

export const authorizationPolicySpecSchema = z
  .strictObject({
    selector: z.strictObject({ matchLabels: z.record(z.string(), z.string()).optional() }).optional(),
    action: z.enum(ACTIONS, `must be one of ${ACTIONS.join(', ')}`).optional(),
    provider: z.strictObject({ name: nonEmpty }).optional(),
    rules: z.array(ruleSchema).optional(),
    targetRef: z.unknown().refine((v) => v === undefined, { message: 'targetRef is not supported (meshfed has no Gateway API)', params: UNSUPPORTED }),
    targetRefs: z.unknown().refine((v) => v === undefined, { message: 'targetRefs is not supported (meshfed has no Gateway API)', params: UNSUPPORTED }),
  })
  .superRefine((s, ctx) => {
    if (s.action === 'CUSTOM' && s.provider === undefined) ctx.addIssue({ code: 'custom', path: ['provider'], message: 'required with action CUSTOM' });
    if (s.action !== 'CUSTOM' && s.provider !== undefined) ctx.addIssue({ code: 'custom', path: ['provider'], message: 'only allowed with action CUSTOM' });
    if (s.action === 'CUSTOM') ctx.addIssue({ code: 'custom', path: ['action'], message: 'CUSTOM (ext_authz) is not supported yet', params: UNSUPPORTED });
  });

export type AuthorizationPolicySpecDoc = z.infer<typeof authorizationPolicySpecSchema>;
export type AuthorizationRuleDoc = z.infer<typeof ruleSchema>;

import { z } from 'zod';

/**
 * The PeerAuthentication spec as Istio's security API defines it (`security.istio.io/v1` and
 * `v1beta1`), strict: a field meshfed does not know is reported with its path. As Istio's
 * validation requires, `portLevelMtls` needs a `selector` (a workload-scoped policy); a policy of
 * mesh or namespace scope that sets it is refused at `spec.portLevelMtls`. A `selector` must name
 * at least one label (an empty one would silently widen to namespace scope).
 */

const MODES = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const;
const MODE_MSG = `must be one of ${MODES.join(', ')}`;
const mtls = z.strictObject({ mode: z.enum(MODES, MODE_MSG).optional() });

const PORT_KEY = /^[1-9][0-9]{0,4}$/;

export const peerAuthenticationSpecSchema = z
  .strictObject({
    selector: z
      .strictObject({ matchLabels: z.record(z.string(), z.string()) })
      .refine((s) => Object.keys(s.matchLabels).length > 0, { message: 'must name at least one label', path: ['matchLabels'] })
      .optional(),
    mtls: mtls.optional(),
    portLevelMtls: z
      .record(
        z.string().refine((k) => PORT_KEY.test(k) && Number(k) <= 65535, 'must be a port 1..65535'),
        mtls,
      )
      .optional(),
  })
  .superRefine((spec, ctx) => {
    if (spec.portLevelMtls !== undefined && spec.selector === undefined) {
      ctx.addIssue({ code: 'custom', path: ['portLevelMtls'], message: 'portLevelMtls requires a selector (workload scope), as Istio requires' });
    }
  });

export type PeerAuthenticationSpecDoc = z.infer<typeof peerAuthenticationSpecSchema>;

import { z } from 'zod';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Istio `exportTo` (VirtualService, DestinationRule, ServiceEntry): `.` (the resource's namespace),
 * `*` (every namespace), `~` (none) or namespace names. Absent means `*`. Normalized by
 * `toExportTo` (config-hosts.ts).
 */
export const exportTo = z
  .array(z.string().refine((v) => v === '.' || v === '*' || v === '~' || (v.length <= 63 && DNS_LABEL.test(v)), 'must be ".", "*", "~" or a namespace name'))
  .optional();

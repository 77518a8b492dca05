/**
 * Chooses a discovery backend by name (docs/conventions.md: one interface per extension point, chosen by name). `consul` talks to a local Consul agent;
 * `memory` to the embedded memory discovery server, the default when no Consul binary is found.
 */
import { z } from 'zod';
import { createConsulDiscovery, type ConsulDiscoveryOptions } from './discovery-consul.ts';
import type { DiscoveryBackend, DiscoveryBackendKind } from './discovery-interface.ts';
import { createMemoryDiscovery, type MemoryDiscoveryOptions } from './discovery-memory.ts';
import { FederationOptionsError } from './federation-errors.ts';

/** The options each backend takes, by backend name. */
export interface DiscoveryBackendOptions {
  consul: ConsulDiscoveryOptions;
  memory: MemoryDiscoveryOptions;
}

const timeout = z.number().int().positive().optional();
const schemas = {
  consul: z.object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    requestTimeoutMs: timeout,
    token: z.string().min(1).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces').optional(),
    tls: z
      .object({
        ca: z.string().includes('-----BEGIN CERTIFICATE-----', { message: 'must hold a PEM certificate' }),
        cert: z.string().optional(),
        key: z.string().optional(),
        serverName: z.string().min(1).optional(),
      })
      .strict()
      .refine((t) => (t.cert === undefined) === (t.key === undefined), { message: 'cert and key go together' })
      .optional(),
  }).strict(),
  memory: z.object({ url: z.url({ protocol: /^https?$/ }), datacenter: z.string().min(1), requestTimeoutMs: timeout }),
} as const;

function invalid(kind: string, error: z.ZodError): FederationOptionsError {
  const issue = error.issues[0];
  return new FederationOptionsError(`invalid ${kind} ${issue?.path.join('.') ?? 'options'}: ${issue?.message ?? ''}`);
}

/** Creates the backend named `kind`; throws FederationOptionsError naming the invalid field. */
export function createDiscoveryBackend<K extends DiscoveryBackendKind>(
  kind: K,
  opts: DiscoveryBackendOptions[K],
): DiscoveryBackend {
  if (kind === 'consul') {
    const parsed = schemas.consul.safeParse(opts);
    if (!parsed.success) throw invalid(kind, parsed.error);
    return createConsulDiscovery(Object.freeze(parsed.data));
  }
  if (kind === 'memory') {
    const parsed = schemas.memory.safeParse(opts);
    if (!parsed.success) throw invalid(kind, parsed.error);
    return createMemoryDiscovery(Object.freeze(parsed.data));
  }
  throw new FederationOptionsError(`invalid backend: ${String(kind)} (expected consul or memory)`);
}

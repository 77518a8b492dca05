/**
 * Pure translation between meshfed's federation model and Consul's service catalog
 * (docs/conventions.md: a foreign format is translated by a pure function). No I/O: the discovery backends and the controller call these, tests call them with
 * tables.
 *
 * One Consul service instance stands for one exported endpoint (workload). Its address and port
 * are the exporting cluster's east-west gateway, since that is the only way in from outside; the
 * workload's identity and labels travel in the service meta.
 */
import { z } from 'zod';
import type {
  ImportedEndpoint,
  LocalExportState,
} from '../federation-interface.ts';
import { fail, ok, type Result } from '../../common/result.ts';
import { SERVICE_PROTOCOLS, type ServiceProtocol } from '../../common/service-protocol.ts';
import { endpointIdOf, isEndpointId } from '../../xds/naming.ts';

/** Tag carried by every instance meshfed registers; importers ignore instances without it. */
export const MESHFED_TAG = 'meshfed';
/** The label Istio uses to name an endpoint's cluster. */
export const CLUSTER_LABEL = 'topology.istio.io/cluster';
/** Consul rejects meta values longer than this. */
export const META_VALUE_MAX = 512;

/** A service instance (plus its TTL check) to register with the local Consul agent. */
export interface ConsulRegistration {
  /** `<cluster>/<namespace>/<service>/<workload>`; unique per datacenter. */
  id: string;
  /** The service name (Kubernetes service name, without namespace). */
  name: string;
  /** The cluster's east-west gateway. */
  address: string;
  port: number;
  /** `[meshfed, ns:<namespace>]` */
  tags: string[];
  /** See `toRegistrations` for the keys. */
  meta: Record<string, string>;
  /** The TTL check the exporter keeps passing; when it lapses the instance turns critical. */
  check: { id: string; ttl: string; status: 'passing'; deregisterCriticalServiceAfter: string };
}

/** Output of toRegistrations: what can be registered, and why anything else cannot. */
export interface RegistrationConversion {
  registrations: ConsulRegistration[];
  /** One message per endpoint (or service) left out, naming the offending field. */
  rejected: string[];
}

/** Output of fromHealthEntries. */
export interface HealthConversion {
  /** Passing instances only, one endpoint per (instance, service port). */
  endpoints: ImportedEndpoint[];
  /** Malformed entries, one message each naming the entry and the field. */
  skipped: string[];
  /** IDs of well-formed meshfed instances left out because a check is not passing. */
  unhealthy: string[];
}

const ID_SEPARATOR = '/';

/** The service ID of one exported endpoint. Segments are DNS labels, so they never hold `/`. */
export function registrationId(cluster: string, namespace: string, service: string, workload: string): string {
  return [cluster, namespace, service, workload].join(ID_SEPARATOR);
}

/** Prefix shared by every ID registered by `cluster`; used by the orphan sweep. */
export function registrationIdPrefix(cluster: string): string {
  return cluster + ID_SEPARATOR;
}

/** The TTL check ID of a registration ID. */
export function checkIdFor(registrationIdValue: string): string {
  return `meshfed:${registrationIdValue}`;
}

const segmentPattern = /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/;
const hostnamePattern = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

function validPort(port: number): boolean {
  return Number.isInteger(port) && port > 0 && port < 65536;
}

/**
 * Converts the local export state into one registration per exported endpoint.
 *
 * Meta keys: `namespace`, `cluster`, `service`, `ports` (`http:9080,grpc:50051,tcp:9000`: protocol:port, protocols of src/common/service-protocol.ts), `sni_host` (the
 * host in the SNI `outbound_.<port>_._.<host>`), `workload`, `service_account` and `labels` (JSON
 * of the label map, because Consul meta keys cannot hold keys like `topology.istio.io/cluster`),
 * and `endpoint_id` (`endpointIdOf(cluster, namespace, workload)`: the promise that this cluster's
 * gateway routes the endpoint-qualified SNI of that id to exactly this endpoint).
 * An endpoint whose meta would break Consul's limits is rejected alone; a bad service or gateway
 * rejects what depends on it. Output order follows input order.
 */
export function toRegistrations(state: LocalExportState, opts: { ttlSeconds: number }): RegistrationConversion {
  const registrations: ConsulRegistration[] = [];
  const rejected: string[] = [];
  const { cluster, gateway } = state;
  if (!segmentPattern.test(cluster)) {
    return { registrations, rejected: [`cluster: invalid cluster name ${JSON.stringify(cluster)}`] };
  }
  if (gateway.address.length === 0 || !validPort(gateway.port)) {
    return { registrations, rejected: [`gateway: invalid gateway ${gateway.address}:${gateway.port}`] };
  }
  const ttl = `${opts.ttlSeconds}s`;
  const seen = new Set<string>();
  state.exports.forEach((svc, i) => {
    const where = `exports[${i}]`;
    const serviceProblems: string[] = [];
    if (!segmentPattern.test(svc.namespace)) serviceProblems.push(`${where}.namespace: invalid ${JSON.stringify(svc.namespace)}`);
    if (!segmentPattern.test(svc.name)) serviceProblems.push(`${where}.name: invalid ${JSON.stringify(svc.name)}`);
    if (!hostnamePattern.test(svc.hostname)) serviceProblems.push(`${where}.hostname: invalid ${JSON.stringify(svc.hostname)}`);
    if (svc.ports.length === 0) serviceProblems.push(`${where}.ports: at least one port is required`);
    svc.ports.forEach((p, j) => {
      if (!validPort(p.port)) serviceProblems.push(`${where}.ports[${j}].port: invalid ${p.port}`);
      if (!(SERVICE_PROTOCOLS as readonly string[]).includes(p.protocol)) {
        serviceProblems.push(`${where}.ports[${j}].protocol: invalid ${String(p.protocol)}`);
      }
    });
    if (serviceProblems.length > 0) {
      rejected.push(...serviceProblems);
      return;
    }
    const ports = svc.ports.map((p) => `${p.protocol}:${p.port}`).join(',');
    svc.endpoints.forEach((ep, k) => {
      const at = `${where}.endpoints[${k}]`;
      if (!segmentPattern.test(ep.workload)) {
        rejected.push(`${at}.workload: invalid ${JSON.stringify(ep.workload)}`);
        return;
      }
      const id = registrationId(cluster, svc.namespace, svc.name, ep.workload);
      if (seen.has(id)) {
        rejected.push(`${at}.workload: duplicate ${ep.workload} in ${svc.namespace}/${svc.name}`);
        return;
      }
      const meta: Record<string, string> = {
        namespace: svc.namespace,
        cluster,
        service: svc.name,
        ports,
        sni_host: svc.hostname,
        workload: ep.workload,
        service_account: ep.serviceAccount,
        labels: JSON.stringify({ ...ep.labels, [CLUSTER_LABEL]: cluster }),
        endpoint_id: endpointIdOf(cluster, svc.namespace, ep.workload),
      };
      const tooLong = Object.entries(meta).filter(([, v]) => v.length > META_VALUE_MAX);
      if (tooLong.length > 0) {
        for (const [key, v] of tooLong) {
          rejected.push(`${at}: meta ${key} is ${v.length} characters, Consul allows ${META_VALUE_MAX}`);
        }
        return;
      }
      seen.add(id);
      registrations.push({
        id,
        name: svc.name,
        address: gateway.address,
        port: gateway.port,
        tags: [MESHFED_TAG, `ns:${svc.namespace}`],
        meta,
        check: {
          id: checkIdFor(id),
          ttl,
          status: 'passing',
          deregisterCriticalServiceAfter: `${Math.max(60, opts.ttlSeconds * 20)}s`,
        },
      });
    });
  });
  return { registrations, rejected };
}

const nullableArray = <T extends z.ZodType>(item: T) =>
  z
    .array(item)
    .nullish()
    .transform((v) => v ?? []);

/** The subset of one `/v1/health/service/<name>` entry that meshfed reads. */
const healthEntrySchema = z.object({
  Node: z.object({ Node: z.string(), Datacenter: z.string().optional() }),
  Service: z.object({
    ID: z.string().min(1),
    Service: z.string().min(1),
    Tags: nullableArray(z.string()),
    Address: z.string(),
    Port: z.number().int(),
    Meta: z
      .record(z.string(), z.string())
      .nullish()
      .transform((v) => v ?? {}),
  }),
  Checks: nullableArray(z.object({ CheckID: z.string(), Status: z.string() })),
});

const metaSchema = z.object({
  namespace: z.string().regex(segmentPattern),
  cluster: z.string().min(1),
  service: z.string().regex(segmentPattern),
  ports: z.string().min(1),
  sni_host: z.string().regex(hostnamePattern),
  workload: z.string().min(1),
  service_account: z.string(),
  labels: z.string(),
  /** Absent from exporters that predate endpoint-qualified SNIs. */
  endpoint_id: z.string().refine(isEndpointId, 'must be 16 lower-case hex digits').optional(),
});

const labelsSchema = z.record(z.string(), z.string());

function issuesText(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** `http:9080,tcp:9000` → ports with their protocols; undefined when any part is malformed. */
function parsePorts(text: string): { port: number; protocol: ServiceProtocol }[] | undefined {
  const ports: { port: number; protocol: ServiceProtocol }[] = [];
  for (const part of text.split(',')) {
    const m = /^([a-z0-9-]+):(\d{1,5})$/.exec(part);
    const protocol = SERVICE_PROTOCOLS.find((p) => p === m?.[1]);
    const port = m ? Number(m[2]) : Number.NaN;
    if (protocol === undefined || !validPort(port)) return undefined;
    ports.push({ port, protocol });
  }
  return ports;
}

function parseLabels(text: string): Record<string, string> | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = labelsSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Validates the JSON body of Consul's `/v1/health/service/<name>?dc=<datacenter>` and converts its
 * meshfed instances into imported endpoints. Fails only when the body is not an array; a malformed
 * entry is skipped and reported, an instance with any check not `passing` (for example a TTL that
 * lapsed because its cluster died) is left out, and an instance claiming another cluster than the
 * datacenter it was read from is treated as malformed. `endpoint_id` is optional (older exporters
 * lack it); when present it must be an endpoint id.
 */
export function fromHealthEntries(datacenter: string, entries: unknown): Result<HealthConversion> {
  if (!Array.isArray(entries)) return fail([`health entries of ${datacenter}: expected an array`]);
  const endpoints: ImportedEndpoint[] = [];
  const skipped: string[] = [];
  const unhealthy: string[] = [];
  entries.forEach((raw: unknown, i) => {
    const entry = healthEntrySchema.safeParse(raw);
    if (!entry.success) {
      skipped.push(`[${i}]: ${issuesText(entry.error)}`);
      return;
    }
    const { Node, Service, Checks } = entry.data;
    if (!Service.Tags.includes(MESHFED_TAG)) return;
    const at = `[${i}] ${Service.ID}`;
    const meta = metaSchema.safeParse(Service.Meta);
    if (!meta.success) {
      skipped.push(`${at}: Meta.${issuesText(meta.error)}`);
      return;
    }
    const m = meta.data;
    if (m.cluster !== datacenter || (Node.Datacenter !== undefined && Node.Datacenter !== datacenter)) {
      skipped.push(`${at}: Meta.cluster ${m.cluster} does not match datacenter ${datacenter}`);
      return;
    }
    if (m.service !== Service.Service) {
      skipped.push(`${at}: Meta.service ${m.service} does not match service ${Service.Service}`);
      return;
    }
    if (Service.Address.length === 0 || !validPort(Service.Port)) {
      skipped.push(`${at}: Address/Port: invalid gateway ${Service.Address}:${Service.Port}`);
      return;
    }
    const ports = parsePorts(m.ports);
    if (ports === undefined) {
      skipped.push(`${at}: Meta.ports: invalid ${JSON.stringify(m.ports)}`);
      return;
    }
    const labels = parseLabels(m.labels);
    if (labels === undefined) {
      skipped.push(`${at}: Meta.labels: not a JSON map of strings`);
      return;
    }
    if (!Checks.every((c) => c.Status === 'passing')) {
      unhealthy.push(Service.ID);
      return;
    }
    for (const { port, protocol } of ports) {
      endpoints.push({
        cluster: datacenter,
        namespace: m.namespace,
        service: m.service,
        hostname: m.sni_host,
        port,
        protocol,
        gateway: { address: Service.Address, port: Service.Port },
        labels: { ...labels, [CLUSTER_LABEL]: datacenter },
        workload: m.workload,
        serviceAccount: m.service_account,
        ...(m.endpoint_id !== undefined ? { endpointId: m.endpoint_id } : {}),
      });
    }
  });
  return ok({ endpoints, skipped, unhealthy });
}

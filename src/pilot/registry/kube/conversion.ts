/**
 * Kubernetes objects (Service, EndpointSlice, Pod, Node) as the registries' model, the way Istio's
 * kube controller reads them (pilot/pkg/serviceregistry/kube). Pure: no client, no I/O; the kube
 * registry (kube-registry.ts) feeds it what its informers hold.
 */
import type { V1EndpointSlice, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import { selectProtocol } from '../../../common/service-protocol.ts';
import { ISTIO_LOCALITY_LABEL, REGION_LABEL, SUBZONE_LABEL, ZONE_LABEL } from '../locality-labels.ts';
import type { EndpointHealth, EndpointLocality, RegistryEndpoint, RegistryService, RegistryServicePort } from '../registry-types.ts';
import { serviceHostname } from '../workload-conversion.ts';

/** EndpointSlice label naming the Service a slice belongs to. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** Pod label the injector sets: `istio` (mTLS through the sidecar) or `disabled`. */
export const TLS_MODE_LABEL = 'security.istio.io/tlsMode';
/** Pod annotation the injector writes; its presence means the pod runs a sidecar. */
export const SIDECAR_STATUS_ANNOTATION = 'sidecar.istio.io/status';

/** The outcome of converting one Service. */
export type ServiceConversion =
  | { readonly kind: 'service'; readonly service: RegistryService }
  /** Not a mesh service, not an error (ExternalName). */
  | { readonly kind: 'ignored'; readonly reason: string }
  /** Each error reads `Service <ns>/<name>: <field path>: <message>`. */
  | { readonly kind: 'invalid'; readonly errors: readonly string[] };

const frozenRecord = (r: Readonly<Record<string, string>> | undefined): Readonly<Record<string, string>> => Object.freeze({ ...(r ?? {}) });

/**
 * A Service as a RegistryService. Ports: TCP ones (a port without `protocol` is TCP); UDP and SCTP
 * ports are left out, as meshfed (like Istio) proxies neither. Each port's protocol comes from
 * selectProtocol(appProtocol, port name); a refused or unknown appProtocol, or a refused name
 * prefix (`udp-…`), makes the whole Service invalid with the port's path. ExternalName Services are
 * ignored (meshfed has no alias services; Istio too only aliases them behind a feature flag).
 * Headless Services (`clusterIP: None`) have no addresses; their endpoints are as any other's.
 */
export function convertService(svc: V1Service, cluster: string, domainSuffix: string): ServiceConversion {
  const namespace = svc.metadata?.namespace ?? 'default';
  const name = svc.metadata?.name ?? '';
  const where = `Service ${namespace}/${name}`;
  if (name === '') return { kind: 'invalid', errors: [`${where}: metadata.name: must not be empty`] };
  const spec = svc.spec ?? {};
  if (spec.type === 'ExternalName') return { kind: 'ignored', reason: `${where}: type ExternalName is not a mesh service` };
  const errors: string[] = [];
  const ports: RegistryServicePort[] = [];
  (spec.ports ?? []).forEach((p, i) => {
    const l4 = p.protocol ?? 'TCP';
    if (l4 !== 'TCP') return;
    const portName = p.name ?? '';
    const choice = selectProtocol({ appProtocol: p.appProtocol, ...(portName !== '' ? { portName } : {}) });
    if (!choice.ok) {
      for (const e of choice.errors) errors.push(`${where}: spec.ports[${i}].${e.field === 'portName' ? 'name' : e.field}: ${e.message}`);
      return;
    }
    ports.push(
      Object.freeze({
        name: portName,
        port: p.port,
        ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
        protocol: choice.value.protocol,
      }),
    );
  });
  if (errors.length > 0) return { kind: 'invalid', errors };
  const ips = spec.clusterIPs ?? (spec.clusterIP !== undefined ? [spec.clusterIP] : []);
  const addresses = ips.filter((ip) => ip !== '' && ip !== 'None');
  return {
    kind: 'service',
    service: Object.freeze({
      hostname: serviceHostname(name, namespace, domainSuffix),
      name,
      namespace,
      cluster,
      ports: Object.freeze(ports.sort((a, b) => a.port - b.port)),
      labels: frozenRecord(svc.metadata?.labels),
      addresses: Object.freeze(addresses),
    }),
  };
}

/** What an EndpointSlice's endpoints are joined with. */
export interface EndpointContext {
  readonly cluster: string;
  /** The slice's Service, converted. */
  readonly service: RegistryService;
  /** The Service's `spec.publishNotReadyAddresses`: every endpoint counts as ready. */
  readonly publishNotReadyAddresses: boolean;
  /** The pod `namespace/name`, when known. */
  pod(namespace: string, name: string): V1Pod | undefined;
  /** The node `name`, when known. */
  node(name: string): V1Node | undefined;
}

/**
 * Health as Istio's `endpointHealthStatus` reads the conditions: `ready` unset or true is healthy;
 * otherwise `terminating: true` is terminating, else unhealthy. `serving` is not read (Istio reads
 * it only to keep draining endpoints for persistent sessions, which meshfed does not have).
 */
export function endpointHealth(conditions: { ready?: boolean; serving?: boolean; terminating?: boolean } | undefined, publishNotReady: boolean): EndpointHealth {
  if (publishNotReady || conditions?.ready === undefined || conditions.ready) return 'healthy';
  return conditions.terminating === true ? 'terminating' : 'unhealthy';
}

/**
 * A pod's locality: its `istio-locality` label (`region.zone.subzone`) when set, else its node's
 * `topology.kubernetes.io/region|zone` and `topology.istio.io/subzone` labels, as Istio does.
 */
export function podLocality(pod: V1Pod | undefined, node: V1Node | undefined): EndpointLocality {
  const override = pod?.metadata?.labels?.[ISTIO_LOCALITY_LABEL];
  if (override !== undefined && override !== '') {
    const [region = '', zone = '', subZone = ''] = override.split('.');
    return Object.freeze({ region, zone, subZone });
  }
  const labels = node?.metadata?.labels ?? {};
  return Object.freeze({ region: labels[REGION_LABEL] ?? '', zone: labels[ZONE_LABEL] ?? '', subZone: labels[SUBZONE_LABEL] ?? '' });
}

/**
 * Whether a pod runs a sidecar (Istio's tlsMode): its `security.istio.io/tlsMode` label when set
 * (`istio` or not), else whether the injector's `sidecar.istio.io/status` annotation is present.
 */
export function podHasSidecar(pod: V1Pod | undefined): boolean {
  const mode = pod?.metadata?.labels?.[TLS_MODE_LABEL];
  if (mode !== undefined) return mode === 'istio';
  return pod?.metadata?.annotations?.[SIDECAR_STATUS_ANNOTATION] !== undefined;
}

/** A named targetPort as the pod's container port of that name (TCP), if it has one. */
function containerPort(pod: V1Pod | undefined, name: string): number | undefined {
  for (const c of pod?.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === name && (p.protocol ?? 'TCP') === 'TCP') return p.containerPort;
  }
  return undefined;
}

/**
 * The endpoint port of `servicePort` for one pod: the slice port's number when the slice has one
 * (the EndpointSlice controller resolved the targetPort), else the targetPort resolved here (a
 * number as is, a name through the pod's container ports), else the service port.
 */
function endpointPort(servicePort: RegistryServicePort, slicePort: number | undefined, pod: V1Pod | undefined): number | undefined {
  if (slicePort !== undefined) return slicePort;
  const target = servicePort.targetPort;
  if (target === undefined) return servicePort.port;
  if (typeof target === 'number') return target;
  return /^[0-9]+$/.test(target) ? Number(target) : containerPort(pod, target);
}

/**
 * The endpoints of one EndpointSlice: one per (endpoint, slice port naming a service port). Only
 * IPv4 and IPv6 slices count (FQDN slices are ignored, as Istio does); an endpoint's address is its
 * first. An endpoint whose targetRef names a Pod not (yet) known is left out until the pod is seen
 * (Istio queues it the same way); one without a targetRef (a hand-written slice) has no labels,
 * service account or sidecar. A named targetPort the pod does not declare gives no endpoint for that
 * port, as with Kubernetes itself.
 */
export function convertEndpointSlice(slice: V1EndpointSlice, ctx: EndpointContext): RegistryEndpoint[] {
  if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') return [];
  const namespace = slice.metadata?.namespace ?? ctx.service.namespace;
  const out: RegistryEndpoint[] = [];
  for (const e of slice.endpoints ?? []) {
    const address = e.addresses[0];
    if (address === undefined) continue;
    const ref = e.targetRef;
    const pod = ref?.kind === 'Pod' && ref.name !== undefined ? ctx.pod(ref.namespace ?? namespace, ref.name) : undefined;
    if (ref?.kind === 'Pod' && pod === undefined) continue;
    const nodeName = e.nodeName ?? pod?.spec?.nodeName;
    const locality = podLocality(pod, nodeName !== undefined ? ctx.node(nodeName) : undefined);
    const health = endpointHealth(e.conditions, ctx.publishNotReadyAddresses);
    for (const sp of slice.ports ?? []) {
      const servicePort = ctx.service.ports.find((p) => p.name === (sp.name ?? ''));
      if (servicePort === undefined) continue;
      const port = endpointPort(servicePort, sp.port, pod);
      if (port === undefined) continue;
      out.push(
        Object.freeze({
          hostname: ctx.service.hostname,
          servicePortName: servicePort.name,
          servicePort: servicePort.port,
          address,
          port,
          labels: frozenRecord(pod?.metadata?.labels),
          serviceAccount: pod !== undefined ? (pod.spec?.serviceAccountName ?? 'default') : '',
          workload: pod?.metadata?.name ?? ref?.name ?? address,
          namespace,
          cluster: ctx.cluster,
          locality,
          sidecar: podHasSidecar(pod),
          health,
        }),
      );
    }
  }
  return out;
}

import { z } from 'zod';
import { fail, ok, type Result } from '../common/result.ts';
import { formatZodIssues } from '../common/zod-issues.ts';
import { ROOT_CERT_CONFIGMAP } from '../citadel/kube/root-cert-conversion.ts';
import { type JsonPatchOperation, pointerSegment } from './admission-review.ts';
import { captureInitArgs, INBOUND_CAPTURE_PORT, OUTBOUND_CAPTURE_PORT, PROXY_UID } from './inject-capture.ts';
import type { InjectorSettings } from './inject-settings.ts';

export const SIDECAR_CONTAINER = 'istio-proxy';
export const INIT_CONTAINER = 'istio-init';
export const INJECT_KEY = 'sidecar.istio.io/inject';
export const STATUS_ANNOTATION = 'sidecar.istio.io/status';
export const HEALTH_PORT = 15021;
export const METRICS_PORT = 15090;
export const TOKEN_AUDIENCE = 'meshfed-ca';
/** The ConfigMap holding the mesh's root certificate in every namespace (Istio's `istio-ca-root-cert`). */
export { ROOT_CERT_CONFIGMAP };
const TOKEN_DIR = '/var/run/secrets/tokens';
const ROOTS_DIR = '/var/run/secrets/meshfed';
const VOLUMES = { token: 'meshfed-token', roots: 'meshfed-ca-root' } as const;
/** Namespaces Istio never injects into, whatever their labels say. */
const IGNORED_NAMESPACES = ['kube-system', 'kube-public'];
const OPT_OUT = ['false', 'no', 'n', 'off'];

const stringMap = z.record(z.string(), z.string());
const containerSchema = z.looseObject({
  name: z.string(),
  ports: z.array(z.looseObject({ containerPort: z.number().int() })).optional(),
});
const podSchema = z.looseObject({
  metadata: z
    .looseObject({ name: z.string().optional(), labels: stringMap.optional(), annotations: stringMap.optional() })
    .optional(),
  spec: z.looseObject({
    containers: z.array(containerSchema).min(1, 'a pod needs at least one container'),
    initContainers: z.array(containerSchema).optional(),
    volumes: z.array(z.unknown()).optional(),
    hostNetwork: z.boolean().optional(),
    serviceAccountName: z.string().optional(),
  }),
});

/** Either the patch that injects the pod, or why it is left alone (then no patch at all). */
export type InjectionPlan = { inject: true; patch: JsonPatchOperation[] } | { inject: false; reason: string };

/**
 * Decides whether a pod being created in `namespace` gets a sidecar, and writes the RFC 6902
 * patch that adds it. Pure: the same pod, namespace and settings give the same patch.
 *
 * Left alone (as Istio's injector): hostNetwork pods; pods in the control plane's namespace,
 * kube-system and kube-public; pods whose `sidecar.istio.io/inject` label, else annotation, says
 * false; pods already injected (the `sidecar.istio.io/status` annotation or a container named
 * istio-proxy), so a second pass changes nothing; pods declaring no container port (the sidecar
 * needs the app's port).
 * The namespace opt-in (`meshfed-injection` / `istio-injection` labels) is the webhook
 * configuration's namespaceSelector; the API server only sends pods it selects.
 *
 * Errors: a pod that is not a pod, or a malformed `traffic.sidecar.istio.io/*` annotation, each
 * with its field path.
 */
export function planInjection(pod: unknown, namespace: string, s: InjectorSettings): Result<InjectionPlan, string[]> {
  const parsed = podSchema.safeParse(pod);
  if (!parsed.success) {
    return fail(formatZodIssues(parsed.error.issues, ['request', 'object']));
  }
  const p = parsed.data;
  const labels = p.metadata?.labels ?? {};
  const annotations = p.metadata?.annotations ?? {};
  const skip = (reason: string): Result<InjectionPlan, string[]> => ok({ inject: false, reason });

  if (p.spec.hostNetwork === true) return skip('hostNetwork pods are not injected');
  if (namespace === s.controlPlaneNamespace) return skip(`pods in the control plane's namespace ${namespace} are not injected`);
  if (IGNORED_NAMESPACES.includes(namespace)) return skip(`pods in ${namespace} are not injected`);
  const optIn = labels[INJECT_KEY] ?? annotations[INJECT_KEY];
  if (optIn !== undefined && OPT_OUT.includes(optIn.toLowerCase())) return skip(`${INJECT_KEY} is "${optIn}"`);
  if (annotations[STATUS_ANNOTATION] !== undefined || p.spec.containers.some((c) => c.name === SIDECAR_CONTAINER)) {
    return skip('already injected');
  }
  const ports = p.spec.containers.flatMap((c) => (c.ports ?? []).map((port) => port.containerPort));
  const servicePort = ports[0];
  if (servicePort === undefined) return skip('no container declares a port; the sidecar needs the app port');

  const capture = captureInitArgs(annotations, ports);
  if (!capture.ok) return fail(capture.errors);

  const serviceAccount = p.spec.serviceAccountName ?? 'default';
  const workload = labels['app.kubernetes.io/name'] ?? labels['app'] ?? '$(POD_NAME)';
  const patch: JsonPatchOperation[] = [];
  const append = (path: string, present: boolean, items: unknown[]): void => {
    if (present) for (const item of items) patch.push({ op: 'add', path: `${path}/-`, value: item });
    else patch.push({ op: 'add', path, value: items });
  };
  if (p.metadata === undefined) patch.push({ op: 'add', path: '/metadata', value: {} });
  append('/spec/initContainers', p.spec.initContainers !== undefined, [initContainer(s, capture.value)]);
  append('/spec/containers', true, [sidecarContainer(s, { namespace, serviceAccount, workload, servicePort, labels })]);
  append('/spec/volumes', p.spec.volumes !== undefined, volumes());

  const status = JSON.stringify({
    initContainers: [INIT_CONTAINER],
    containers: [SIDECAR_CONTAINER],
    volumes: [VOLUMES.token, VOLUMES.roots],
    imagePullSecrets: null,
    revision: 'default',
  });
  const added: Record<string, string> = { [STATUS_ANNOTATION]: status };
  // Istio leaves a pod's own scrape annotations alone; it adds its own only when there are none.
  if (annotations['prometheus.io/scrape'] === undefined) {
    Object.assign(added, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(METRICS_PORT), 'prometheus.io/path': '/stats/prometheus' });
  }
  addEntries(patch, '/metadata/annotations', p.metadata?.annotations !== undefined, added);
  addEntries(patch, '/metadata/labels', p.metadata?.labels !== undefined, { 'security.istio.io/tlsMode': 'istio' });
  return ok({ inject: true, patch });
}

/** Adds `entries` to a map at `path`, creating the map when the pod has none. */
function addEntries(patch: JsonPatchOperation[], path: string, present: boolean, entries: Record<string, string>): void {
  if (!present) {
    patch.push({ op: 'add', path, value: entries });
    return;
  }
  for (const [k, v] of Object.entries(entries)) patch.push({ op: 'add', path: `${path}/${pointerSegment(k)}`, value: v });
}

function initContainer(s: InjectorSettings, args: string[]): Record<string, unknown> {
  return {
    name: INIT_CONTAINER,
    image: s.image,
    imagePullPolicy: 'IfNotPresent',
    args,
    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
    securityContext: {
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
  };
}

/** `$(` in a literal argument is escaped as `$$(`, so that Kubernetes does not expand it. */
function literal(text: string): string {
  return text.replaceAll('$(', () => '$$(');
}

function sidecarContainer(
  s: InjectorSettings,
  w: { namespace: string; serviceAccount: string; workload: string; servicePort: number; labels: Record<string, string> },
): Record<string, unknown> {
  const fieldEnv = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });
  return {
    name: SIDECAR_CONTAINER,
    image: s.image,
    imagePullPolicy: 'IfNotPresent',
    args: [
      'sidecar',
      '--cluster', s.cluster,
      '--namespace', w.namespace,
      '--workload', w.workload === '$(POD_NAME)' ? w.workload : literal(w.workload),
      '--service-account', w.serviceAccount,
      '--address', '$(POD_IP)',
      // Istio's: admin serves the whole configuration, so only the pod itself reaches it.
      '--admin-address', '127.0.0.1',
      '--service-port', String(w.servicePort),
      '--labels', literal(JSON.stringify(w.labels)),
      '--control-plane', s.controlPlaneHost,
      '--roots', `${ROOTS_DIR}/root-cert.pem`,
      '--token-file', `${TOKEN_DIR}/${VOLUMES.token}`,
      '--trust-domain', s.trustDomain,
      // Behind the istio-init container's iptables rules: read original destinations.
      '--capture',
    ],
    env: [fieldEnv('POD_NAME', 'metadata.name'), fieldEnv('POD_NAMESPACE', 'metadata.namespace'), fieldEnv('POD_IP', 'status.podIP')],
    ports: [
      { name: 'mesh-outbound', containerPort: OUTBOUND_CAPTURE_PORT, protocol: 'TCP' },
      { name: 'mesh-inbound', containerPort: INBOUND_CAPTURE_PORT, protocol: 'TCP' },
      { name: 'health', containerPort: HEALTH_PORT, protocol: 'TCP' },
      { name: 'http-envoy-prom', containerPort: METRICS_PORT, protocol: 'TCP' },
    ],
    readinessProbe: { httpGet: { path: '/healthz/ready', port: HEALTH_PORT }, initialDelaySeconds: 1, periodSeconds: 2, failureThreshold: 30 },
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2', memory: '1Gi' } },
    securityContext: {
      runAsUser: PROXY_UID,
      runAsGroup: PROXY_UID,
      runAsNonRoot: true,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [
      { name: VOLUMES.token, mountPath: TOKEN_DIR, readOnly: true },
      { name: VOLUMES.roots, mountPath: ROOTS_DIR, readOnly: true },
    ],
  };
}

function volumes(): unknown[] {
  return [
    {
      name: VOLUMES.token,
      projected: { sources: [{ serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: 43200, path: VOLUMES.token } }] },
    },
    { name: VOLUMES.roots, configMap: { name: ROOT_CERT_CONFIGMAP } },
  ];
}

import { PORTS } from '../../common/ports.ts';
import { CA_SECRET, CONTAINER_SECURITY, CONTROL_PLANE, PART_OF, POD_IP_ENV, scrapeAnnotations } from './install-labels.ts';
import type { InstallOptions } from './install-options.ts';
import type { Manifest } from './manifest.ts';

export const WEBHOOK_PORT = PORTS.webhook;

/** The control plane's Service ports, named the way Istio's protocol selection reads them. */
export const CONTROL_PLANE_PORTS = [
  { name: 'grpc-xds', port: PORTS.xdsPlain },
  { name: 'tls-xds', port: PORTS.xdsTls },
  { name: 'http-monitoring', port: PORTS.monitoring },
  { name: 'https-webhook', port: WEBHOOK_PORT },
] as const;

const CA_DIR = '/etc/cacerts';

/**
 * The control plane (`meshfed controlplane`: Pilot, Citadel, Mixer, federation in one process,
 * like istiod) as a Deployment and its Service. It reads the cluster itself, with its service
 * account (RBAC in install-rbac.ts): Services, EndpointSlices, Pods and Nodes (`--registries
 * kube,federation`), meshfed's custom resources (`--config-stores crd`, status written back), and
 * it authenticates sidecars' projected service-account tokens with TokenReview (`--auth kube`,
 * audience `meshfed-ca`). The plug-in CA Secret `cacerts` is its only mounted input.
 */
export function controlPlaneManifests(o: InstallOptions): Manifest[] {
  const ns = o.namespace;
  const labels = { app: CONTROL_PLANE, ...PART_OF };
  const args = [
    'controlplane',
    '--cluster', o.cluster,
    '--address', '$(POD_IP)',
    '--trust-domain', o.trustDomain,
    '--namespace', ns,
    '--sidecar-image', o.image,
    '--ca-dir', CA_DIR,
    '--registries', 'kube,federation',
    '--config-stores', 'crd',
    '--auth', 'kube',
    '--gateway-address', o.gatewayAddress,
    '--discovery', 'consul',
    '--consul', o.consul,
  ];
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: CONTROL_PLANE, namespace: ns, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: CONTROL_PLANE } },
        template: {
          metadata: {
            labels: { ...labels, 'topology.istio.io/network': o.network, 'sidecar.istio.io/inject': 'false' },
            annotations: scrapeAnnotations(PORTS.monitoring, '/metrics'),
          },
          spec: {
            serviceAccountName: CONTROL_PLANE,
            securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'controlplane',
                image: o.image,
                imagePullPolicy: 'IfNotPresent',
                args,
                env: [POD_IP_ENV],
                ports: CONTROL_PLANE_PORTS.map((p) => ({ name: p.name, containerPort: p.port, protocol: 'TCP' })),
                readinessProbe: { httpGet: { path: '/ready', port: PORTS.monitoring }, periodSeconds: 3 },
                resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
                securityContext: CONTAINER_SECURITY,
                volumeMounts: [{ name: 'cacerts', mountPath: CA_DIR, readOnly: true }],
              },
            ],
            volumes: [{ name: 'cacerts', secret: { secretName: CA_SECRET } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: CONTROL_PLANE, namespace: ns, labels },
      spec: {
        selector: { app: CONTROL_PLANE },
        ports: CONTROL_PLANE_PORTS.map((p) => ({ name: p.name, port: p.port, targetPort: p.port, protocol: 'TCP' })),
      },
    },
  ];
}

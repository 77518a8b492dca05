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
const REGISTRY_DIR = '/etc/meshfed/registry';
const TOKENS_DIR = '/etc/meshfed/tokens';
const CONFIG_DIR = '/etc/meshfed/config';

/**
 * The control plane (`meshfed controlplane`: Pilot, Citadel, Mixer, federation in one process,
 * like istiod) as a Deployment and its Service. Its inputs are mounted: the plug-in CA Secret
 * `cacerts`, a file registry, bootstrap tokens and a watched config folder (each a ConfigMap,
 * empty as installed).
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
    '--registry-file', `${REGISTRY_DIR}/workloads.json`,
    '--tokens-file', `${TOKENS_DIR}/tokens.json`,
    '--config-dir', CONFIG_DIR,
    '--gateway-address', o.gatewayAddress,
    '--discovery', 'consul',
    '--consul', o.consul,
  ];
  return [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'meshfed-registry', namespace: ns, labels },
      data: { 'workloads.json': `${JSON.stringify({ cluster: o.cluster, gatewayAddress: o.gatewayAddress, workloads: [] })}\n` },
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'meshfed-bootstrap-tokens', namespace: ns, labels }, data: { 'tokens.json': '{"tokens":{}}\n' } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'meshfed-config', namespace: ns, labels } },
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
                volumeMounts: [
                  { name: 'cacerts', mountPath: CA_DIR, readOnly: true },
                  { name: 'registry', mountPath: REGISTRY_DIR, readOnly: true },
                  { name: 'tokens', mountPath: TOKENS_DIR, readOnly: true },
                  { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
                ],
              },
            ],
            volumes: [
              { name: 'cacerts', secret: { secretName: CA_SECRET } },
              { name: 'registry', configMap: { name: 'meshfed-registry' } },
              { name: 'tokens', configMap: { name: 'meshfed-bootstrap-tokens' } },
              { name: 'config', configMap: { name: 'meshfed-config' } },
            ],
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

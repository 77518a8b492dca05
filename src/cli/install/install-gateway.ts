import { PORTS } from '../../common/ports.ts';
import { TOKEN_AUDIENCE } from '../../webhooks/inject-patch.ts';
import { CA_SECRET, CONTAINER_SECURITY, CONTROL_PLANE, GATEWAY, PART_OF, POD_IP_ENV, scrapeAnnotations } from './install-labels.ts';
import type { InstallOptions } from './install-options.ts';
import type { Manifest } from './manifest.ts';

/** MetalLB's annotation that pins a LoadBalancer Service to one address of its pool. */
export const METALLB_IPS_ANNOTATION = 'metallb.io/loadBalancerIPs';

/**
 * The east-west gateway: 2 replicas spread over nodes (with a PodDisruptionBudget), TLS
 * passthrough on 15443, metrics on 15090 (`/stats/prometheus`), readiness from its admin `/ready`.
 * The Service is a LoadBalancer pinned to `--gateway-address`, or, with
 * `--gateway-service-type NodePort`, a NodePort on `--gateway-node-port` (kind-configs map 31443
 * to the host).
 */
export function gatewayManifests(o: InstallOptions): Manifest[] {
  const ns = o.namespace;
  const selector = { app: GATEWAY, istio: 'eastwestgateway' };
  const labels = { ...selector, ...PART_OF, 'topology.istio.io/network': o.network };
  const tlsPort: Record<string, unknown> = { name: 'tls', port: PORTS.eastWestGateway, targetPort: PORTS.eastWestGateway, protocol: 'TCP' };
  const lb = o.gatewayServiceType === 'LoadBalancer';
  if (!lb) tlsPort['nodePort'] = o.gatewayNodePort;
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: GATEWAY, namespace: ns, labels },
      spec: {
        replicas: 2,
        selector: { matchLabels: selector },
        template: {
          metadata: {
            labels: { ...labels, 'sidecar.istio.io/inject': 'false' },
            annotations: scrapeAnnotations(PORTS.sidecarMetrics, '/stats/prometheus'),
          },
          spec: {
            serviceAccountName: GATEWAY,
            securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  { weight: 100, podAffinityTerm: { labelSelector: { matchLabels: selector }, topologyKey: 'kubernetes.io/hostname' } },
                ],
              },
            },
            containers: [
              {
                name: 'gateway',
                image: o.image,
                imagePullPolicy: 'IfNotPresent',
                args: [
                  'gateway', '--cluster', o.cluster, '--address', '$(POD_IP)', '--control-plane', `${CONTROL_PLANE}.${ns}.svc`,
                  '--roots', '/etc/meshfed/roots/root-cert.pem', '--token-file', '/var/run/secrets/tokens/meshfed-token',
                  '--namespace', ns, '--service-account', GATEWAY,
                ],
                env: [POD_IP_ENV],
                ports: [
                  { name: 'tls', containerPort: PORTS.eastWestGateway, protocol: 'TCP' },
                  { name: 'http-admin', containerPort: PORTS.sidecarAdmin, protocol: 'TCP' },
                  { name: 'http-envoy-prom', containerPort: PORTS.sidecarMetrics, protocol: 'TCP' },
                ],
                readinessProbe: { httpGet: { path: '/ready', port: PORTS.sidecarAdmin }, periodSeconds: 3 },
                resources: { requests: { cpu: '100m', memory: '96Mi' }, limits: { memory: '256Mi' } },
                securityContext: CONTAINER_SECURITY,
                volumeMounts: [
                  { name: 'roots', mountPath: '/etc/meshfed/roots', readOnly: true },
                  { name: 'meshfed-token', mountPath: '/var/run/secrets/tokens', readOnly: true },
                ],
              },
            ],
            // Only the root certificate of the plug-in CA Secret: the gateway never holds a CA key.
            // and a projected service-account token, for Citadel to sign the gateway's own certificate.
            volumes: [
              { name: 'roots', secret: { secretName: CA_SECRET, items: [{ key: 'root-cert.pem', path: 'root-cert.pem' }] } },
              {
                name: 'meshfed-token',
                projected: { sources: [{ serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: 43200, path: 'meshfed-token' } }] },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: GATEWAY, namespace: ns, labels },
      spec: { minAvailable: 1, selector: { matchLabels: selector } },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: GATEWAY, namespace: ns, labels, ...(lb ? { annotations: { [METALLB_IPS_ANNOTATION]: o.gatewayAddress } } : {}) },
      spec: { type: o.gatewayServiceType, selector, ports: [tlsPort] },
    },
  ];
}

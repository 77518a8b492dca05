/** Names and labels shared by the objects of one install. */
export const CONTROL_PLANE = 'meshfed-controlplane';
export const GATEWAY = 'meshfed-eastwestgateway';
/** Istio's name for the plug-in CA Secret (ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem). */
export const CA_SECRET = 'cacerts';

export const PART_OF = { 'app.kubernetes.io/part-of': 'meshfed' } as const;

/** Istio's Prometheus scrape annotations (`prometheus.io/scrape`, `port`, `path`). */
export function scrapeAnnotations(port: number, path: string): Record<string, string> {
  return { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port), 'prometheus.io/path': path };
}

/** The restricted Pod Security profile every meshfed container runs under. */
export const CONTAINER_SECURITY = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
} as const;

export const POD_IP_ENV = { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } } as const;

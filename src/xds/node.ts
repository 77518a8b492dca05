import type { ProtoStruct } from './struct.ts';
import { fromStruct, toStruct } from './struct.ts';

/**
 * Identity of a proxy on an ADS stream, taken from the first DiscoveryRequest's `node`.
 *
 * Node id follows Istio: `<type>~<ip>~<workload>.<namespace>~<namespace>.svc.cluster.local`, where
 * type is `sidecar` or `router` (east-west gateway). Metadata keys follow Istio too: `CLUSTER_ID`,
 * `NAMESPACE`, `WORKLOAD_NAME`, `SERVICE_ACCOUNT`, `LABELS` (a struct), `GENERATOR: grpc` for
 * proxyless gRPC clients, and `INTERCEPTION_MODE: REDIRECT` for a sidecar behind iptables capture
 * (`meshfed sidecar --capture`). Unlike Istio, a sidecar without INTERCEPTION_MODE is not captured
 * (meshfed's local mode: the app sends to its sidecar itself); `NONE` says so explicitly and
 * `TPROXY` is refused.
 */
export type ProxyType = 'sidecar' | 'router' | 'proxyless';

export interface ProxyNode {
  id: string;
  type: ProxyType;
  ip: string;
  workload: string;
  namespace: string;
  cluster: string;
  serviceAccount: string;
  labels: Record<string, string>;
  /** `REDIRECT`: the proxy's traffic is captured by iptables REDIRECT (absent: not captured). */
  interceptionMode?: 'REDIRECT';
}

export interface NodeIdentityInput {
  type: 'sidecar' | 'router';
  ip: string;
  workload: string;
  namespace: string;
  cluster: string;
  serviceAccount: string;
  labels: Record<string, string>;
  generator?: 'grpc';
  interceptionMode?: 'REDIRECT';
}

export function formatNodeId(n: { type: 'sidecar' | 'router'; ip: string; workload: string; namespace: string }): string {
  return `${n.type}~${n.ip}~${n.workload}.${n.namespace}~${n.namespace}.svc.cluster.local`;
}

/** The `node` object a client sends (proto field names), metadata as a Struct. */
export function nodeMessage(n: NodeIdentityInput): {
  id: string;
  cluster: string;
  metadata: ProtoStruct;
  user_agent_name: string;
} {
  const metadata: { [k: string]: string | { [k: string]: string } } = {
    CLUSTER_ID: n.cluster,
    NAMESPACE: n.namespace,
    WORKLOAD_NAME: n.workload,
    SERVICE_ACCOUNT: n.serviceAccount,
    LABELS: n.labels,
  };
  if (n.generator) metadata['GENERATOR'] = n.generator;
  if (n.interceptionMode) metadata['INTERCEPTION_MODE'] = n.interceptionMode;
  const fields = toStruct(metadata).fields;
  return { id: formatNodeId(n), cluster: n.cluster, metadata: { fields }, user_agent_name: 'meshfed' };
}

/** Parses the node of a first DiscoveryRequest. Returns an error string when it is unusable. */
export function parseNode(node: unknown): { ok: true; value: ProxyNode } | { ok: false; errors: string[] } {
  if (typeof node !== 'object' || node === null) return { ok: false, errors: ['node: missing'] };
  const n = node as { id?: unknown; cluster?: unknown; metadata?: unknown };
  if (typeof n.id !== 'string' || n.id === '') return { ok: false, errors: ['node.id: missing'] };
  const meta = fromStruct((n.metadata ?? undefined) as ProtoStruct | undefined);
  const str = (k: string): string => (typeof meta[k] === 'string' ? (meta[k] as string) : '');
  const labelsRaw = meta['LABELS'];
  const labels: Record<string, string> = {};
  if (labelsRaw && typeof labelsRaw === 'object' && !Array.isArray(labelsRaw)) {
    for (const [k, v] of Object.entries(labelsRaw)) if (typeof v === 'string') labels[k] = v;
  }
  const parts = n.id.split('~');
  const kind = parts[0];
  let type: ProxyType;
  if (str('GENERATOR') === 'grpc') type = 'proxyless';
  else if (kind === 'sidecar' || kind === 'router') type = kind;
  else return { ok: false, errors: [`node.id: unknown proxy type in ${JSON.stringify(n.id)}`] };
  const ip = parts[1] ?? '';
  const podDotNs = parts[2] ?? '';
  const namespace = str('NAMESPACE') || podDotNs.split('.').slice(1).join('.') || 'default';
  const workload = str('WORKLOAD_NAME') || podDotNs.split('.')[0] || '';
  const cluster = str('CLUSTER_ID') || (typeof n.cluster === 'string' ? n.cluster : '');
  if (cluster === '') return { ok: false, errors: ['node.metadata.CLUSTER_ID: missing'] };
  const mode = meta['INTERCEPTION_MODE'];
  if (mode !== undefined && mode !== 'REDIRECT' && mode !== 'NONE') {
    return { ok: false, errors: [`node.metadata.INTERCEPTION_MODE: ${JSON.stringify(mode)} is not supported (REDIRECT or NONE)`] };
  }
  if (mode === 'REDIRECT' && type !== 'sidecar') return { ok: false, errors: ['node.metadata.INTERCEPTION_MODE: REDIRECT is for sidecars only'] };
  return {
    ok: true,
    value: { id: n.id, type, ip, workload, namespace, cluster, serviceAccount: str('SERVICE_ACCOUNT'), labels, ...(mode === 'REDIRECT' ? { interceptionMode: 'REDIRECT' as const } : {}) },
  };
}

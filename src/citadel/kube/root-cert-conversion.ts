/**
 * What the mesh's root certificate should look like in a cluster, as pure functions over the
 * objects read from the API server (the root-certificate publisher applies them):
 * - the ConfigMap `meshfed-ca-root-cert` (key `root-cert.pem`) in every namespace, Istio's
 *   `istio-ca-root-cert`: injected sidecars mount it to verify the control plane;
 * - the `caBundle` of every webhook of meshfed's webhook configurations (base64 of the root PEM),
 *   so the API server verifies the control plane's 15017 certificate, which Citadel issues.
 */

/** The ConfigMap holding the mesh's root in every namespace (Istio's `istio-ca-root-cert`). */
export const ROOT_CERT_CONFIGMAP = 'meshfed-ca-root-cert';
/** Its one key meshfed writes. */
export const ROOT_CERT_KEY = 'root-cert.pem';
/** The label on the ConfigMaps the publisher creates. */
export const ROOT_CERT_LABELS: Readonly<Record<string, string>> = Object.freeze({ 'app.kubernetes.io/managed-by': 'meshfed' });
/** Namespaces istiod's namespace controller never publishes into; neither does meshfed. */
export const ROOT_CERT_IGNORED_NAMESPACES: readonly string[] = Object.freeze(['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage']);

/** The fields of a Namespace the publisher reads. */
export interface NamespaceLike {
  metadata?: { name?: string };
  status?: { phase?: string };
}

/** The fields of a ConfigMap the publisher reads; an update writes back the whole object read. */
export interface ConfigMapLike {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

/** What to do about one namespace's root ConfigMap. */
export type RootCertConfigMapAction =
  | { action: 'none'; reason: string }
  | { action: 'create'; body: ConfigMapLike }
  | { action: 'update'; body: ConfigMapLike };

/**
 * The action that brings `namespace`'s ConfigMap (`current`, undefined when there is none) to
 * hold `rootPem`. Nothing for a namespace that is gone, terminating or ignored. An update keeps
 * the object's other keys, labels and resourceVersion (so a concurrent change conflicts).
 */
export function rootCertConfigMapAction<C extends ConfigMapLike>(namespace: NamespaceLike | undefined, current: C | undefined, rootPem: string): RootCertConfigMapAction {
  const name = namespace?.metadata?.name;
  if (namespace === undefined || name === undefined || name === '') return { action: 'none', reason: 'the namespace does not exist' };
  if (ROOT_CERT_IGNORED_NAMESPACES.includes(name)) return { action: 'none', reason: `${name} is never published into` };
  if (namespace.status?.phase === 'Terminating') return { action: 'none', reason: `${name} is terminating` };
  if (current === undefined) {
    return {
      action: 'create',
      body: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: ROOT_CERT_CONFIGMAP, namespace: name, labels: { ...ROOT_CERT_LABELS } },
        data: { [ROOT_CERT_KEY]: rootPem },
      },
    };
  }
  if (current.data?.[ROOT_CERT_KEY] === rootPem) return { action: 'none', reason: 'up to date' };
  return { action: 'update', body: { ...current, data: { ...(current.data ?? {}), [ROOT_CERT_KEY]: rootPem } } };
}

/** The `caBundle` value for `rootPem`: its PEM text, base64-encoded. */
export function caBundleOf(rootPem: string): string {
  return Buffer.from(rootPem, 'utf8').toString('base64');
}

/** One RFC 6902 operation. */
export type CaBundlePatchOperation = { op: 'test'; path: string; value: string } | { op: 'add'; path: string; value: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The JSON patch that sets `caBundle` on every webhook of a Validating- or
 * MutatingWebhookConfiguration whose caBundle differs; empty when all are current. Each change is
 * guarded by a `test` of that webhook's name, so a configuration edited meanwhile (webhooks
 * reordered) fails the patch instead of changing the wrong webhook. Webhooks without a
 * `clientConfig` (refused by the API server anyway) are left alone.
 */
export function caBundlePatch(configuration: unknown, caBundle: string): CaBundlePatchOperation[] {
  const webhooks = isRecord(configuration) && Array.isArray(configuration['webhooks']) ? configuration['webhooks'] : [];
  const ops: CaBundlePatchOperation[] = [];
  webhooks.forEach((w: unknown, i) => {
    if (!isRecord(w) || typeof w['name'] !== 'string' || !isRecord(w['clientConfig'])) return;
    if (w['clientConfig']['caBundle'] === caBundle) return;
    ops.push({ op: 'test', path: `/webhooks/${i}/name`, value: w['name'] });
    ops.push({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle });
  });
  return ops;
}

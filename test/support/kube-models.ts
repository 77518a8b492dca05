/**
 * Validates Kubernetes objects offline against Kubernetes' own OpenAPI schemas, as packaged by
 * `kubernetes-models` (built-in kinds) and `@kubernetes-models/istio` (Istio's CRDs). The model
 * class is found by apiVersion and kind; a kind neither package knows is reported, never passed.
 */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string };
}

type ModelClass = new (data: unknown) => { validate(): void };

function modulePath(o: KubeObject): string {
  const slash = o.apiVersion.indexOf('/');
  if (slash === -1) return `kubernetes-models/${o.apiVersion}/${o.kind}`;
  const group = o.apiVersion.slice(0, slash);
  if (group.endsWith('.istio.io')) return `@kubernetes-models/istio/${o.apiVersion}/${o.kind}`;
  return `kubernetes-models/${o.apiVersion}/${o.kind}`;
}

/**
 * Istio's v1 API is its v1beta1 schema promoted unchanged; @kubernetes-models/istio 2.x ships
 * v1beta1, so a v1 object is checked as its v1beta1 twin.
 */
function asPublished(o: KubeObject): KubeObject {
  const m = /^([a-z.]+\.istio\.io)\/v1$/.exec(o.apiVersion);
  return m ? { ...o, apiVersion: `${m[1]}/v1beta1` } : o;
}

/** The problems of `o` under its published schema; empty when it is valid. */
export async function kubeSchemaProblems(original: KubeObject): Promise<string[]> {
  const o = asPublished(original);
  const where = `${o.kind} ${o.metadata?.name ?? '?'}`;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(modulePath(o))) as Record<string, unknown>;
  } catch {
    return [`${where}: no published schema for ${o.apiVersion} ${o.kind}`];
  }
  const Model = mod[o.kind] as ModelClass | undefined;
  if (typeof Model !== 'function') return [`${where}: ${modulePath(o)} exports no ${o.kind}`];
  try {
    new Model(o).validate();
    return [];
  } catch (e: unknown) {
    return [`${where}: ${e instanceof Error ? e.message : String(e)}`];
  }
}

import * as k8s from '@kubernetes/client-node';

/**
 * Unknown-field check for built-in Kubernetes kinds, the part of `kubectl apply --validate=strict`
 * that kubernetes-models' validators leave out (they accept any extra field). The field lists are
 * the attribute maps of `@kubernetes/client-node`'s models, which are generated from Kubernetes'
 * OpenAPI spec. Only `v1` API versions are mapped (every built-in kind meshfed's manifests use).
 */
interface Attribute {
  baseName: string;
  type: string;
}
type Model = { getAttributeTypeMap(): Attribute[] };

const models = k8s as unknown as Record<string, Partial<Model> | undefined>;

function model(name: string): Model | undefined {
  const m = models[name];
  return typeof m?.getAttributeTypeMap === 'function' ? (m as Model) : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function walk(value: unknown, type: string, at: string, out: string[]): void {
  const array = /^Array<(.+)>$/.exec(type);
  if (array?.[1]) {
    const item = array[1];
    if (Array.isArray(value)) {
      value.forEach((v, i) => {
        walk(v, item, `${at}[${i}]`, out);
      });
    }
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map?.[1]) {
    if (isRecord(value)) for (const [k, v] of Object.entries(value)) walk(v, map[1], `${at}.${k}`, out);
    return;
  }
  const m = model(type);
  if (!m || !isRecord(value)) return;
  const attrs = new Map(m.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    const t = attrs.get(k);
    if (t === undefined) out.push(`${at === '' ? '' : `${at}.`}${k}: unknown field (${type})`);
    else walk(v, t, at === '' ? k : `${at}.${k}`, out);
  }
}

/** The model class of a built-in kind (`apps/v1` Deployment → V1Deployment), or undefined. */
export function modelName(apiVersion: string, kind: string): string | undefined {
  const version = apiVersion.split('/').at(-1) ?? '';
  if (version !== 'v1') return undefined;
  const name = `V1${kind}`;
  return model(name) ? name : undefined;
}

/** Every field of `obj` that its kind's model does not have, with its path. */
export function unknownFields(obj: { apiVersion: string; kind: string }): string[] {
  const name = modelName(obj.apiVersion, obj.kind);
  if (name === undefined) return [`${obj.apiVersion} ${obj.kind}: no model to check fields against`];
  const out: string[] = [];
  walk(obj, name, '', out);
  return out;
}

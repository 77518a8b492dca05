/**
 * One problem found in configuration. A diagnostic value, returned (never thrown) by the parser,
 * loaders and stores, so that a list of them can be shown to the user at once.
 *
 * `code` is stable:
 * - `CONFIG_SYNTAX`: the file is not valid YAML.
 * - `CONFIG_INVALID`: a field has a wrong value or type.
 * - `CONFIG_UNSUPPORTED`: a kind or field that Istio knows but meshfed does not support (yet), or
 *   a field nobody knows; meshfed rejects rather than ignores it.
 * - `CONFIG_DUPLICATE`: two documents define the same kind/namespace/name.
 * - `CONFIG_IO`: a file or folder could not be read.
 */
export type ConfigErrorCode = 'CONFIG_SYNTAX' | 'CONFIG_INVALID' | 'CONFIG_UNSUPPORTED' | 'CONFIG_DUPLICATE' | 'CONFIG_IO';

export interface ConfigErrorFields {
  code: ConfigErrorCode;
  source: string;
  kind?: string;
  /** The resource as `<namespace>/<name>`, when known. */
  name?: string;
  /** Path of the offending field, e.g. `spec.http[0].route[1].weight`; empty for the whole document. */
  path: string;
  message: string;
}

export class ConfigError implements ConfigErrorFields {
  readonly code: ConfigErrorCode;
  readonly source: string;
  readonly kind?: string;
  readonly name?: string;
  readonly path: string;
  readonly message: string;

  constructor(f: ConfigErrorFields) {
    this.code = f.code;
    this.source = f.source;
    if (f.kind !== undefined) this.kind = f.kind;
    if (f.name !== undefined) this.name = f.name;
    this.path = f.path;
    this.message = f.message;
    Object.freeze(this);
  }

  /** `west/reviews.yaml: VirtualService default/reviews: spec.http[0].route[1].weight: must be an integer 0..100` */
  toString(): string {
    const parts = [this.source];
    const what = [this.kind, this.name].filter((s) => s !== undefined && s !== '').join(' ');
    if (what !== '') parts.push(what);
    if (this.path !== '') parts.push(this.path);
    parts.push(this.message);
    return parts.join(': ');
  }
}

/** Formats a zod-style path (`['spec', 'http', 0]`) as `spec.http[0]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

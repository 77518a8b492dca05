import type { z } from 'zod';

/** `spec.http[0].route[1].weight` from a zod issue path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

/**
 * Turns zod issues into `path: message` lines. Unknown keys are reported one per key, each with
 * its full path, as "not a supported field", because meshfed never ignores a field silently.
 */
export function formatZodIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    const base = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push(`${formatPath([...base, key])}: not a supported field`);
    } else {
      out.push(`${formatPath(base) || '(root)'}: ${issue.message}`);
    }
  }
  return out;
}

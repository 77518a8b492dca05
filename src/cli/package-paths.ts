import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the installed meshfed package lives. `src/cli/` and its compiled twin `dist/cli/` sit at the
 * same depth under the package root, so this resolves to the same folder from either: a checkout,
 * a packed tarball installed with `npm install -g`, or `npx` inside the checkout.
 */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The compiled CLI entry. Every child the runner starts is `node <CLI_ENTRY> <command>`, by absolute
 * path, so no child depends on the caller's working directory or on a TypeScript loader.
 */
export const CLI_ENTRY = path.join(PACKAGE_ROOT, 'dist', 'cli', 'main.js');

/** Thrown when the compiled CLI is missing: a checkout that was never built. */
export function assertBuilt(): void {
  if (!existsSync(CLI_ENTRY)) {
    throw new Error(`the compiled CLI ${CLI_ENTRY} is missing: run \`npm run build\` in ${PACKAGE_ROOT}`);
  }
}

/** The package's own version, from its package.json. */
export function packageVersion(): string {
  const doc: unknown = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8'));
  if (typeof doc === 'object' && doc !== null && 'version' in doc && typeof doc.version === 'string') return doc.version;
  throw new Error(`no version in ${path.join(PACKAGE_ROOT, 'package.json')}`);
}

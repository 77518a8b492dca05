#!/usr/bin/env node
// Entry point for the `meshfed` command: the compiled CLI in dist/ (`npm run build` makes it).
// It is found relative to this file, never to the working directory, so it runs from any folder.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(`meshfed: ${entry.pathname} is missing; run \`npm run build\` in the meshfed checkout\n`);
  process.exit(1);
}
await import(entry.href);

#!/usr/bin/env node
// Builds meshfed's one native addon, native/original-dst (SO_ORIGINAL_DST for transparent capture),
// with node-gyp: the copy that ships inside npm (npm_execpath), else `node-gyp` on PATH. Node's
// headers come from the running Node's own prefix (<prefix>/include/node) when it has them, so
// nothing is downloaded.
//   node scripts/build-native.mjs             fails when the addon cannot be built (npm run build:native)
//   node scripts/build-native.mjs --optional  warns and succeeds instead (the package's install script):
//                                              only `meshfed sidecar --capture` needs the addon, and it
//                                              says so when it is missing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const optional = process.argv.includes('--optional');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const addonDir = path.join(root, 'native', 'original-dst');

function give(message) {
  if (optional) {
    process.stderr.write(`meshfed: native addon not built (${message}); \`meshfed sidecar --capture\` will not start. Run \`npm run build:native\` to see why.\n`);
    process.exit(0);
  }
  process.stderr.write(`build-native: ${message}\n`);
  process.exit(1);
}

if (process.platform !== 'linux') give(`SO_ORIGINAL_DST is Linux only, this is ${process.platform}`);
if (!existsSync(path.join(addonDir, 'binding.gyp'))) give(`${addonDir}/binding.gyp is missing`);

function nodeGyp() {
  const npmCli = process.env.npm_execpath;
  if (npmCli) {
    const bundled = path.join(path.dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(bundled)) return [process.execPath, bundled];
  }
  const besideNode = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (existsSync(besideNode)) return [process.execPath, besideNode];
  return ['node-gyp'];
}

const prefix = path.resolve(path.dirname(process.execPath), '..');
const args = ['rebuild', '--release'];
if (existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
const [command, ...pre] = nodeGyp();
const r = spawnSync(command, [...pre, ...args], { cwd: addonDir, stdio: optional ? ['ignore', 'ignore', 'pipe'] : 'inherit', encoding: 'utf8' });
if (r.error) give(`cannot run node-gyp: ${r.error.message}`);
if (r.status !== 0) give(`node-gyp rebuild exited with ${r.status ?? r.signal}${optional && r.stderr ? `:\n${r.stderr.trim().split('\n').slice(-5).join('\n')}` : ''}`);
if (!existsSync(path.join(addonDir, 'build', 'Release', 'original_dst.node'))) give('node-gyp succeeded but build/Release/original_dst.node is missing');

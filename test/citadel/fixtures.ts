import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { pino } from 'pino';
import type { BootstrapTokenFile } from '../../src/common/workload.ts';
import { type CaMaterial, initCa, loadCa } from '../../src/citadel/index.ts';

export const TRUST_DOMAIN = 'cluster.local';
export const silentLogger = pino({ level: 'silent' });

/** A temporary folder removed when the test ends. */
export async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-citadel-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh CA folder with the given clusters, and the loaded material of the first one. */
export async function makeCa(t: ExecutionContext, clusters: string[] = ['east']): Promise<{ dir: string; ca: CaMaterial }> {
  const dir = await tempDir(t);
  await initCa({ dir, clusters, trustDomain: TRUST_DOMAIN });
  return { dir, ca: await loadCa(path.join(dir, clusters[0]!)) };
}

/** Writes a BootstrapTokenFile for the given tokens; returns its path. */
export async function writeTokenFile(
  file: string,
  tokens: Record<string, { namespace: string; serviceAccount: string }>,
): Promise<string> {
  const content: BootstrapTokenFile = { tokens: {} };
  for (const [token, id] of Object.entries(tokens)) {
    content.tokens[createHash('sha256').update(token).digest('hex')] = { ...id, workload: `${id.serviceAccount}-0` };
  }
  await writeFile(file, JSON.stringify(content));
  return file;
}

export function randomToken(): string {
  return randomBytes(16).toString('hex');
}

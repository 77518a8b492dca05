/**
 * How tests act on the Kubernetes list/watch test server as a user would with kubectl: plain HTTP
 * requests (create, replace, merge-patch, delete), and a kubeconfig file for the compiled CLI.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import type { KubeListWatchTestServer } from './kube-list-watch-test-server.ts';

/** Sends one request (`token`: the bearer token, for a server that requires one); throws on a status ≥ 300. */
export async function kubeCall(
  s: KubeListWatchTestServer,
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  urlPath: string,
  body?: unknown,
  token?: string,
): Promise<Record<string, unknown>> {
  const res = await request(`${s.url}${urlPath}`, {
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`${method} ${urlPath}: ${res.statusCode} ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/** Writes `<dir>/kubeconfig` pointing at `s` with bearer `token`; returns its path. */
export async function writeKubeconfig(dir: string, s: KubeListWatchTestServer, token: string, name = 'kubeconfig'): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{ name: test, cluster: { server: "${s.url}", insecure-skip-tls-verify: true } }]`,
      `users: [{ name: meshfed, user: { token: ${token} } }]`,
      'contexts: [{ name: test, context: { cluster: test, user: meshfed } }]',
      'current-context: test',
      '',
    ].join('\n'),
  );
  return file;
}

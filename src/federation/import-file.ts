/**
 * The imports folder: how a federation controller in its own process (`meshfed federation`) hands
 * imported endpoints to Pilot (`meshfed pilot --imports-dir`). In local mode the file system plays
 * the part the Kubernetes API server plays for Istio: one writer, one watcher, no extra socket.
 *
 * One file per remote cluster, `<cluster>.json`, replaced whole by rename:
 * `{ apiVersion: meshfed.dev/v1alpha1, kind: ImportedEndpoints, cluster, endpoints: [...] }`.
 */
import { z } from 'zod';
import { errorMessage } from '../common/errors.ts';
import { fail, ok, type Result } from '../common/result.ts';
import { SERVICE_PROTOCOLS } from '../common/service-protocol.ts';
import { formatZodIssues } from '../common/zod-issues.ts';
import { isEndpointId } from '../xds/naming.ts';
import type { ImportedEndpoint } from './federation-interface.ts';

export const IMPORT_FILE_API_VERSION = 'meshfed.dev/v1alpha1';
export const IMPORT_FILE_KIND = 'ImportedEndpoints';

const CLUSTER_NAME = /^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$/;
const port = z.int().min(1).max(65535);

const endpointSchema = z.strictObject({
  cluster: z.string().regex(CLUSTER_NAME, 'must be a cluster name'),
  namespace: z.string().min(1),
  service: z.string().min(1),
  hostname: z.string().min(1),
  port,
  protocol: z.enum(SERVICE_PROTOCOLS).optional(),
  gateway: z.strictObject({ address: z.string().min(1), port }),
  labels: z.record(z.string(), z.string()),
  workload: z.string().min(1),
  serviceAccount: z.string().min(1),
  endpointId: z.string().refine(isEndpointId, 'must be 16 lower-case hex digits').optional(),
});

const fileSchema = z
  .strictObject({
    apiVersion: z.literal(IMPORT_FILE_API_VERSION),
    kind: z.literal(IMPORT_FILE_KIND),
    cluster: z.string().regex(CLUSTER_NAME, 'must be a cluster name'),
    endpoints: z.array(endpointSchema),
  })
  .superRefine((f, ctx) => {
    f.endpoints.forEach((e, i) => {
      if (e.cluster !== f.cluster) {
        ctx.addIssue({ code: 'custom', path: ['endpoints', i, 'cluster'], message: `must equal the file's cluster ${f.cluster}` });
      }
    });
  });

/** The file name that holds `cluster`'s imports. */
export function importFileName(cluster: string): string {
  return `${cluster}.json`;
}

/** Whether `cluster` may name an imports file (a datacenter name: no separators, no dots). */
export function isImportClusterName(cluster: string): boolean {
  return CLUSTER_NAME.test(cluster);
}

/** The text of `cluster`'s imports file. */
export function formatImportFile(cluster: string, endpoints: readonly ImportedEndpoint[]): string {
  return `${JSON.stringify({ apiVersion: IMPORT_FILE_API_VERSION, kind: IMPORT_FILE_KIND, cluster, endpoints }, null, 2)}\n`;
}

/**
 * Validates an imports file. `fileName` must be `<cluster>.json` for the cluster it names, so a
 * copied file cannot shadow another cluster. Errors read `path: message`.
 */
export function parseImportFile(text: string, fileName: string): Result<{ cluster: string; endpoints: ImportedEndpoint[] }> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e: unknown) {
    return fail([`(root): invalid JSON: ${errorMessage(e)}`]);
  }
  const r = fileSchema.safeParse(raw);
  if (!r.success) return fail(formatZodIssues(r.error.issues));
  if (importFileName(r.data.cluster) !== fileName) {
    return fail([`cluster: "${r.data.cluster}" does not match the file name ${fileName}`]);
  }
  return ok({ cluster: r.data.cluster, endpoints: r.data.endpoints });
}

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { errorMessage } from '../../common/errors.ts';
import { sameData } from '../../common/same-data.ts';
import { watchFolder } from '../../common/folder-watch.ts';
import type { Logger } from '../../common/log.ts';
import { fail, ok, type Result } from '../../common/result.ts';
import { SERVICE_PROTOCOLS } from '../../common/service-protocol.ts';
import type { WorkloadRegistryFile, WorkloadSpec } from '../../common/workload.ts';
import type { RegistryChange, RegistryShard, ServiceRegistry } from './registry-interface.ts';
import { type FileLayout, scanLayout, spliceWorkloads, type WorkloadSplice } from './registry-file-splice.ts';
import { workloadShard } from './workload-conversion.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const label = z.string().regex(DNS_LABEL, 'must be a DNS label');
const address = z.string().min(1, 'must not be empty');

const workloadSchema = z.strictObject({
  name: label,
  namespace: label,
  serviceAccount: z.string().min(1),
  cluster: z.string().min(1),
  address,
  labels: z.record(z.string(), z.string()),
  service: z.strictObject({
    name: label,
    port: z.int().min(1).max(65535),
    protocol: z.enum(SERVICE_PROTOCOLS),
  }),
  sidecar: z.boolean(),
});

const fileSchema = z
  .strictObject({ cluster: z.string().min(1), gatewayAddress: address.optional(), workloads: z.array(workloadSchema) })
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    f.workloads.forEach((w, i) => {
      if (w.cluster !== f.cluster) {
        ctx.addIssue({ code: 'custom', path: ['workloads', i, 'cluster'], message: `must equal the file's cluster ${f.cluster}` });
      }
      const key = `${w.namespace}/${w.name}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['workloads', i, 'name'], message: `duplicate workload ${key}` });
      seen.add(key);
    });
  });

function issuePath(p: readonly PropertyKey[]): string {
  return p.map((s) => (typeof s === 'number' ? `[${s}]` : `.${String(s)}`)).join('').replace(/^\./, '');
}

/** Validates the text of a `workloads.json` (WorkloadRegistryFile). Errors read `path: message`. */
export function parseWorkloadRegistry(text: string): Result<WorkloadRegistryFile> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e: unknown) {
    return fail([`invalid JSON: ${errorMessage(e)}`]);
  }
  const r = fileSchema.safeParse(raw);
  if (!r.success) return fail(r.error.issues.map((i) => `${issuePath(i.path) || '(root)'}: ${i.message}`));
  const f = r.data;
  return ok({ cluster: f.cluster, ...(f.gatewayAddress !== undefined ? { gatewayAddress: f.gatewayAddress } : {}), workloads: f.workloads });
}

/** A workload as the file held it (parsed JSON) and the frozen WorkloadSpec validated from it. */
interface ParsedWorkload {
  readonly raw: unknown;
  readonly spec: WorkloadSpec;
}

const freezeWorkload = (w: WorkloadSpec): WorkloadSpec =>
  Object.freeze({ ...w, labels: Object.freeze({ ...w.labels }), service: Object.freeze({ ...w.service }) });

const headSchema = z.strictObject({ cluster: z.string().min(1), gatewayAddress: address.optional(), workloads: z.array(z.unknown()) });

/**
 * Re-validates a registry file against the previous good one: a workload whose parsed JSON equals
 * the previous file's workload at the same index keeps its validated, frozen WorkloadSpec (the same
 * object, so later stages can skip it by identity); only the others go through the schema. The
 * file-level rules (cluster, duplicates) run over every workload. Returns undefined when anything
 * is invalid: the caller then reports the errors of a full `parseWorkloadRegistry`, so errors read
 * the same whichever path found them.
 */
function reparse(raw: unknown, previous: readonly ParsedWorkload[]): { file: WorkloadRegistryFile; parsed: ParsedWorkload[] } | undefined {
  const head = headSchema.safeParse(raw);
  if (!head.success) return undefined;
  const parsed: ParsedWorkload[] = [];
  const seen = new Set<string>();
  for (const [i, w] of head.data.workloads.entries()) {
    const prev = previous[i];
    let spec: WorkloadSpec;
    if (prev !== undefined && sameData(prev.raw, w)) spec = prev.spec;
    else {
      const r = workloadSchema.safeParse(w);
      if (!r.success) return undefined;
      spec = freezeWorkload(r.data);
    }
    const key = `${spec.namespace}/${spec.name}`;
    if (spec.cluster !== head.data.cluster || seen.has(key)) return undefined;
    seen.add(key);
    parsed.push({ raw: w, spec });
  }
  const f = head.data;
  return {
    file: { cluster: f.cluster, ...(f.gatewayAddress !== undefined ? { gatewayAddress: f.gatewayAddress } : {}), workloads: parsed.map((p) => p.spec) },
    parsed,
  };
}

/** The last good file: its bytes, their layout (registry-file-splice.ts) and its workloads. */
interface GoodFile {
  readonly bytes: Buffer;
  readonly layout: FileLayout | undefined;
  readonly file: WorkloadRegistryFile;
  readonly parsed: readonly ParsedWorkload[];
}

/**
 * The good file `next` is, from the previous good file and the splice between them: the kept
 * workloads are the previous ones (same objects); a new one equal to the previous workload at its
 * index keeps that one's WorkloadSpec, the others go through the schema; the file-level rules
 * (cluster, duplicates) run over every workload. Undefined when anything is invalid (the caller
 * then reports a full parse's errors).
 */
function applySplice(prev: GoodFile, bytes: Buffer, splice: WorkloadSplice): GoodFile | undefined {
  const cluster = prev.file.cluster;
  const replaced: ParsedWorkload[] = [];
  for (const [k, w] of splice.values.entries()) {
    const old = k < splice.to - splice.from ? prev.parsed[splice.from + k] : undefined;
    if (old !== undefined && sameData(old.raw, w)) {
      replaced.push(old);
      continue;
    }
    const r = workloadSchema.safeParse(w);
    if (!r.success || r.data.cluster !== cluster) return undefined;
    replaced.push({ raw: w, spec: freezeWorkload(r.data) });
  }
  const parsed = [...prev.parsed.slice(0, splice.from), ...replaced, ...prev.parsed.slice(splice.to)];
  const seen = new Set<string>();
  for (const { spec } of parsed) {
    const key = `${spec.namespace}/${spec.name}`;
    if (seen.has(key)) return undefined;
    seen.add(key);
  }
  return { bytes, layout: splice.layout, file: { ...prev.file, workloads: parsed.map((p) => p.spec) }, parsed };
}

export interface FileRegistry extends ServiceRegistry {
  /** Problems of the current file contents (empty when it is valid). The last good shard stays. */
  errors(): string[];
}

export interface FileRegistryOptions {
  /** Quiet period after the last file event before re-reading; default 50 ms. */
  debounceMs?: number;
  /** DNS suffix of service hostnames (`<service>.<namespace>.svc.<suffix>`); default `cluster.local`. */
  domainSuffix?: string;
}

/**
 * The `file` registry: one shard, for the cluster named in a WorkloadRegistryFile, read at creation
 * and re-read when the file changes. The parent folder is watched (not the file), so writers that
 * replace the file by rename are seen. An invalid or missing file keeps the last good shard.
 * Workloads become services and endpoints through workload-conversion.ts; an unchanged workload
 * keeps its WorkloadSpec object, hence its endpoint object.
 */
export function createFileRegistry(file: string, logger: Logger, opts: FileRegistryOptions = {}): FileRegistry {
  const debounceMs = opts.debounceMs ?? 50;
  const domainSuffix = opts.domainSuffix ?? 'cluster.local';
  const listeners: ((change: RegistryChange) => void)[] = [];
  let shard: RegistryShard | undefined;
  /** The bytes of the last read, good or not. */
  let lastRead: Buffer | undefined;
  let errors: string[] = [];
  let good: GoodFile | undefined;

  /** The file `bytes` hold, validated, or the errors of a full parse. */
  const parse = (bytes: Buffer): GoodFile | string[] => {
    // Proportional path: only the workloads the change touched are parsed and validated.
    const splice = good?.layout !== undefined ? spliceWorkloads(good.bytes, good.layout, bytes) : undefined;
    const spliced = good !== undefined && splice !== undefined ? applySplice(good, bytes, splice) : undefined;
    if (spliced) return spliced;
    const text = bytes.toString('utf8');
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      raw = undefined;
    }
    const fast = raw === undefined ? undefined : reparse(raw, good?.parsed ?? []);
    if (fast) return { bytes, layout: scanLayout(bytes), file: fast.file, parsed: fast.parsed };
    const r = parseWorkloadRegistry(text);
    if (!r.ok) return r.errors;
    // Valid only through the full parse (never the case today: reparse accepts what it accepts).
    return { bytes, layout: undefined, file: r.value, parsed: [] };
  };

  /** Returns true when the shard changed. */
  const load = (): boolean => {
    let next: Buffer;
    try {
      next = readFileSync(file);
    } catch (e: unknown) {
      errors = [`cannot read ${file}: ${errorMessage(e)}`];
      lastRead = undefined;
      return false;
    }
    if (lastRead?.equals(next) === true) return false;
    lastRead = next;
    const r = parse(next);
    if (Array.isArray(r)) {
      errors = r;
      logger.warn({ file, errors: r }, 'workload registry file rejected; keeping last good');
      return false;
    }
    good = r;
    const f = r.file;
    errors = [];
    shard = workloadShard({
      registry: 'file',
      cluster: f.cluster,
      workloads: f.workloads.map((w) => (Object.isFrozen(w) ? w : freezeWorkload(w))),
      domainSuffix,
      ...(f.gatewayAddress !== undefined ? { gatewayAddress: f.gatewayAddress } : {}),
    });
    return true;
  };

  load();
  const base = path.basename(file);
  const watch = watchFolder(path.dirname(file), logger, { debounceMs, what: 'workload registry', accept: (name) => name === base }, (lastEventAt) => {
    if (load()) for (const cb of listeners) cb({ lastEventAt });
  });

  return {
    name: 'file',
    shards: () => (shard ? [shard] : []),
    errors: () => [...errors],
    onChange(cb) {
      listeners.push(cb);
    },
    close() {
      watch.close();
    },
  };
}

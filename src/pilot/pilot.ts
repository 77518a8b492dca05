import { createJwksResolver, type JwksResolverOptions } from './config/jwks-resolver.ts';
import type { MeshConfig } from './config/mesh-config.ts';
import type { KubeConfig } from '@kubernetes/client-node';
import { errorMessage, MeshfedError } from '../common/errors.ts';
import { tlsDisabledRemoteWarnings } from './generators/generator-endpoints.ts';
import type { DnsSettings } from './model/snapshot.ts';
import { createLogger, type Logger } from '../common/log.ts';
import type { ImportSink, LocalExportState } from '../federation/federation-interface.ts';
import type { ProxyNode } from '../xds/node.ts';
import type { XdsResource } from '../xds/resources.ts';
import type { XdsTypeUrl } from '../xds/type-urls.ts';
import { ConfigError } from './config/config-error.ts';
import { CONFIG_STORE_NAMES, createConfigStores } from './config/config-store-factory.ts';
import type { CrdStatusOptions } from './config/crd/crd-store.ts';
import { generate } from './generators/generate.ts';
import { pushDelay } from './push-debounce.ts';
import { buildSnapshot } from './model/build-snapshot.ts';
import { exportState } from './model/export-state.ts';
import { diffSnapshots, type SnapshotChange } from './model/snapshot-diff.ts';
import type { Snapshot } from './model/snapshot.ts';
import { createFederationRegistry } from './registry/registry-federation.ts';
import { readImportFolder } from './registry/import-folder-reader.ts';
import { createRegistry, REGISTRY_NAMES } from './registry/registry-factory.ts';
import type { ServiceRegistry } from './registry/registry-interface.ts';

/** Invalid options given to createPilot; `code` is `PILOT_OPTIONS_INVALID`. */
export class PilotOptionsError extends MeshfedError {
  constructor(message: string) {
    super('PILOT_OPTIONS_INVALID', message);
  }
}

export interface PilotOptions {
  /** The cluster this Pilot serves. */
  cluster: string;
  trustDomain: string;
  /** Default `cluster.local`. */
  domainSuffix?: string;
  /** Path of the cluster's WorkloadRegistryFile (`workloads.json`); required by the `file` registry. */
  registryFile?: string;
  /**
   * The API server of the `kube` registry and the `crd` config store: a kubeconfig path or a loaded
   * KubeConfig; absent: client-node's default (KUBECONFIG, ~/.kube/config, in-cluster).
   */
  kubeconfig?: string | KubeConfig;
  /** Folder of Istio-style YAML, read recursively and watched; required by the `file` config store. */
  configDir?: string;
  /**
   * Registries by name (registry-factory.ts: `federation`, `file`, `kube`), default `file` and
   * `federation`. `federation` must be among them: it is the `federationSink`.
   */
  registries?: readonly string[];
  /**
   * Config stores by name (config-store-factory.ts: `crd`, `file`), default `file`; several
   * are served as one, the first keeping an object defined in two.
   */
  configStores?: readonly string[];
  /**
   * The `crd` store writes status back to the custom resources while it holds this Lease (the
   * control plane passes it); without it the store only reads (as `meshfed federation` does).
   */
  configStatus?: CrdStatusOptions;
  /**
   * Folder of imports written by a federation controller in another process (`meshfed
   * federation --imports-dir`); without it, imports arrive only through `federationSink`.
   */
  importsDir?: string;
  /** This cluster's east-west gateway address; defaults to the registry file's `gatewayAddress`. */
  gatewayAddress?: string;
  /**
   * Mesh-wide DNS settings of DNS-resolved clusters (ServiceEntry resolution DNS /
   * DNS_ROUND_ROBIN): resolvers written into each cluster's `typed_dns_resolver_config` (none: the
   * proxies' system resolver) and the refresh rate (Istio's meshConfig `dnsRefreshRate`, 60 s).
   */
  dns?: DnsSettings;
  /**
   * The mesh config (`--mesh-config`, config/mesh-config.ts), already validated; absent: Istio's
   * defaults. Its `trustDomain`, when set, must equal `trustDomain` (the caller resolves them).
   */
  mesh?: MeshConfig;
  /** Fetching of RequestAuthentication `jwksUri` key sets (refresh, retry, timeout, fetch counter). */
  jwks?: JwksResolverOptions;
  logger?: Logger;
  /**
   * Quiet period after the latest registry or config event before the snapshot is rebuilt; default
   * 50 ms. A registry that waited for its source to settle counts it from its source's last event
   * (push-debounce.ts), so the file registry's 50 ms watch and this are not spent twice.
   */
  debounceMs?: number;
  /**
   * Longest wait from the first change of a quiet period to its push, however often changes keep
   * coming (Istio's PILOT_DEBOUNCE_MAX); default 10 s.
   */
  debounceMaxMs?: number;
}

/** What one rebuilt snapshot changed, and when the first change that led to it happened. */
export interface PilotPush extends SnapshotChange {
  /** Epoch ms of the first registry or config event of the quiet period that ended in this push. */
  readonly changedAt: number;
}

/**
 * Pilot's registries → model → generators, composed. The discovery server (src/pilot/server)
 * hands each snapshot from `onPush` to the ADS server; the federation controller feeds
 * `federationSink` and reads `exportState()`.
 */
export interface Pilot {
  /** Where the federation controller writes imported endpoints (one shard per remote cluster). */
  readonly federationSink: ImportSink;
  /** The current snapshot; replaced (never mutated) on every push. */
  snapshot(): Snapshot;
  /** Resources of one type for one proxy, over the current snapshot. */
  generate(proxy: ProxyNode, typeUrl: XdsTypeUrl): XdsResource[];
  /** What this cluster exports, over the current snapshot. */
  exportState(): LocalExportState;
  /**
   * Called after each rebuilt snapshot with a short reason (`config`, `registry:file`, ...) and
   * what changed since the previous snapshot (scope `none` included: listeners decide).
   */
  onPush(cb: (snap: Snapshot, reason: string, change: PilotPush) => void): void;
  /** Current configuration problems; the objects in the snapshot are the last good ones. */
  configErrors(): ConfigError[];
  /** Current problems of the registries (file, kube) and the imports folder; their last good state stays. */
  registryErrors(): string[];
  /**
   * Resolves once the sources that list from an API server have had their first list: the `crd`
   * config store's, and the `kube` registry's first try. At once without them.
   */
  synced(): Promise<void>;
  /** Stops watchers and timers; idempotent. Resolves once the config stores have stopped (Leases released). */
  close(): Promise<void>;
}

/** A failing jwksUri as a config problem of every RequestAuthentication rule naming it. */
function jwksErrors(snap: Snapshot, failing: ReadonlyMap<string, string>): ConfigError[] {
  if (failing.size === 0) return [];
  return snap.requestAuthentications.flatMap((ra) =>
    ra.spec.jwtRules.flatMap((r, i) => {
      const why = r.jwksUri !== undefined ? failing.get(r.jwksUri) : undefined;
      return why === undefined
        ? []
        : [
            new ConfigError({
              code: 'CONFIG_IO',
              source: ra.source,
              kind: 'RequestAuthentication',
              name: `${ra.metadata.namespace}/${ra.metadata.name}`,
              path: `spec.jwtRules[${i}].jwksUri`,
              message: `cannot fetch ${r.jwksUri}: ${why} (tokens of this issuer are not accepted until it is fetched)`,
            }),
          ];
    }),
  );
}

function hasSynced(r: ServiceRegistry): r is ServiceRegistry & { synced(): Promise<void> } {
  return 'synced' in r && typeof r.synced === 'function';
}

function hasErrors(r: ServiceRegistry): r is ServiceRegistry & { errors(): string[] } {
  return 'errors' in r && typeof r.errors === 'function';
}

function validate(opts: PilotOptions): void {
  const registries = opts.registries ?? ['file', 'federation'];
  const stores = opts.configStores ?? ['file'];
  const nonEmpty: (keyof PilotOptions)[] = [
    'cluster',
    'trustDomain',
    ...(stores.includes('file') ? (['configDir'] as const) : []),
    ...(registries.includes('file') ? (['registryFile'] as const) : []),
  ];
  for (const k of nonEmpty) {
    const v = opts[k];
    if (typeof v !== 'string' || v === '') throw new PilotOptionsError(`invalid ${k}: must be a non-empty string`);
  }
  if (opts.registries !== undefined) {
    opts.registries.forEach((name, i) => {
      if (!REGISTRY_NAMES.includes(name)) {
        throw new PilotOptionsError(`invalid registries[${i}]: unknown registry ${JSON.stringify(name)}: known registries are ${REGISTRY_NAMES.join(', ')}`);
      }
      if (opts.registries?.indexOf(name) !== i) throw new PilotOptionsError(`invalid registries[${i}]: ${name} is listed twice`);
    });
    if (!opts.registries.includes('federation')) throw new PilotOptionsError('invalid registries: must include federation (the federationSink)');
  }
  if (opts.configStores !== undefined) {
    if (opts.configStores.length === 0) throw new PilotOptionsError('invalid configStores: must name at least one config store');
    opts.configStores.forEach((name, i) => {
      if (!CONFIG_STORE_NAMES.includes(name)) {
        throw new PilotOptionsError(`invalid configStores[${i}]: unknown config store ${JSON.stringify(name)}: known config stores are ${CONFIG_STORE_NAMES.join(', ')}`);
      }
      if (opts.configStores?.indexOf(name) !== i) throw new PilotOptionsError(`invalid configStores[${i}]: ${name} is listed twice`);
    });
  }
  if (opts.configStatus !== undefined && !stores.includes('crd')) {
    throw new PilotOptionsError('invalid configStatus: only the crd config store writes status; add crd to configStores or drop it');
  }
  if (opts.mesh?.trustDomain !== undefined && opts.mesh.trustDomain !== opts.trustDomain) {
    throw new PilotOptionsError(`invalid mesh.trustDomain: ${opts.mesh.trustDomain} differs from trustDomain ${opts.trustDomain}`);
  }
  if (opts.debounceMs !== undefined && (!Number.isInteger(opts.debounceMs) || opts.debounceMs < 0)) {
    throw new PilotOptionsError('invalid debounceMs: must be a non-negative integer');
  }
  if (opts.debounceMaxMs !== undefined && (!Number.isInteger(opts.debounceMaxMs) || opts.debounceMaxMs < 0)) {
    throw new PilotOptionsError('invalid debounceMaxMs: must be a non-negative integer');
  }
}

/**
 * Starts Pilot's stages. Throws PilotOptionsError for invalid options (a programmer error at the
 * boundary). A missing or broken registry file or config folder is not fatal: it is logged, and
 * the snapshot holds what could be read (the last good state once there is one).
 */
export async function createPilot(opts: PilotOptions): Promise<Pilot> {
  validate(opts);
  const logger = opts.logger ?? createLogger('pilot', { cluster: opts.cluster });
  const debounceMs = opts.debounceMs ?? 50;
  const debounceMaxMs = opts.debounceMaxMs ?? 10_000;
  const domainSuffix = opts.domainSuffix ?? 'cluster.local';
  const startedAt = Date.now().toString(36);

  const federation = createFederationRegistry();
  const registries: ServiceRegistry[] = [];
  /** Registries that report problems of their sources (file, kube). */
  const reporting: (ServiceRegistry & { errors(): string[] })[] = [];
  for (const name of opts.registries ?? ['file', 'federation']) {
    if (name === 'federation') {
      registries.push(federation);
      continue;
    }
    const r = await createRegistry(name, {
      cluster: opts.cluster,
      domainSuffix,
      logger,
      ...(opts.registryFile !== undefined ? { registryFile: opts.registryFile } : {}),
      ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
      ...(opts.gatewayAddress !== undefined ? { gatewayAddress: opts.gatewayAddress } : {}),
    });
    if (!r.ok) {
      for (const made of registries) made.close();
      throw new PilotOptionsError(`invalid registries: ${r.errors.join('; ')}`);
    }
    registries.push(r.value);
    if (hasErrors(r.value)) reporting.push(r.value);
  }
  for (const f of reporting) for (const e of f.errors()) logger.warn({ registry: f.name }, `registry ${f.name}: ${e}`);
  const imports = opts.importsDir !== undefined ? readImportFolder(opts.importsDir, federation, logger, { debounceMs }) : undefined;
  const store = await createConfigStores(opts.configStores ?? ['file'], {
    domainSuffix,
    logger,
    ...(opts.configDir !== undefined ? { configDir: opts.configDir } : {}),
    ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
    ...(opts.configStatus !== undefined ? { status: opts.configStatus } : {}),
  });
  if (!store.ok) {
    for (const made of registries) made.close();
    imports?.close();
    throw new PilotOptionsError(`invalid configStores: ${store.errors.join('; ')}`);
  }
  const config = store.value;
  // RequestAuthentication jwksUri key sets: fetched here, inlined by the generators (as istiod).
  const jwks = createJwksResolver({ ...opts.jwks });

  let generation = 0;
  const build = (previous?: Snapshot): Snapshot => {
    generation++;
    const objects = config.list();
    jwks.want(objects.flatMap((o) => (o.kind === 'RequestAuthentication' ? o.spec.jwtRules.flatMap((r) => (r.jwksUri !== undefined ? [r.jwksUri] : [])) : [])));
    const shards = registries.flatMap((r) => r.shards());
    const gatewayAddress = opts.gatewayAddress ?? shards.find((s) => s.registry !== 'federation' && s.cluster === opts.cluster)?.gatewayAddress;
    return buildSnapshot({
      cluster: opts.cluster,
      trustDomain: opts.trustDomain,
      domainSuffix,
      ...(gatewayAddress !== undefined ? { gatewayAddress } : {}),
      ...(opts.dns !== undefined ? { dns: opts.dns } : {}),
      ...(opts.mesh !== undefined ? { mesh: opts.mesh } : {}),
      jwks: jwks.current(),
      shards,
      config: objects,
      version: `${startedAt}-${generation}`,
      ...(previous !== undefined ? { previous } : {}),
    });
  };

  let current = build();
  // tls DISABLE leaves remote-cluster endpoints out (plaintext cannot cross the SNI gateway): said once per change.
  let lastWarnings = '';
  const warnTlsDisabledRemote = (): void => {
    const warnings = tlsDisabledRemoteWarnings(current);
    const key = warnings.join('\n');
    if (key === lastWarnings) return;
    lastWarnings = key;
    for (const w of warnings) logger.warn({ version: current.version }, w);
  };
  warnTlsDisabledRemote();
  const listeners: ((snap: Snapshot, reason: string, change: PilotPush) => void)[] = [];
  const reasons = new Set<string>();
  let changedAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const push = (): void => {
    timer = undefined;
    if (closed) return;
    const reason = [...reasons].sort().join(',');
    reasons.clear();
    const prev = current;
    current = build(prev);
    const change: PilotPush = { ...diffSnapshots(prev, current), changedAt };
    logger.debug({ version: current.version, reason, scope: change.scope, hostnames: change.hostnames.size }, 'snapshot rebuilt');
    warnTlsDisabledRemote();
    for (const cb of listeners) {
      try {
        cb(current, reason, change);
      } catch (e: unknown) {
        logger.error({ err: errorMessage(e) }, 'push listener failed');
      }
    }
  };
  /** The latest source event of the current quiet period (see push-debounce.ts). */
  let lastEventAt = 0;
  const schedule = (reason: string, eventAt?: number): void => {
    if (closed) return;
    const now = Date.now();
    const at = Math.min(eventAt ?? now, now);
    if (reasons.size === 0) {
      changedAt = now;
      lastEventAt = at;
    } else lastEventAt = Math.max(lastEventAt, at);
    reasons.add(reason);
    if (timer) clearTimeout(timer);
    timer = setTimeout(push, pushDelay({ now, firstChangeAt: changedAt, lastEventAt, debounceMs, debounceMaxMs }));
  };

  const synced = Promise.all([config.synced?.(), ...registries.map((r) => (hasSynced(r) ? r.synced() : undefined))]).then(() => undefined);
  for (const r of registries) r.onChange((change) => schedule(`registry:${r.name}`, change?.lastEventAt));
  config.onChange(() => schedule('config'));
  jwks.onChange(() => schedule('jwks'));

  return {
    federationSink: federation,
    snapshot: () => current,
    generate: (proxy, typeUrl) => generate(proxy, typeUrl, current),
    exportState: () => exportState(current),
    onPush(cb) {
      listeners.push(cb);
    },
    configErrors: () => [...config.errors(), ...jwksErrors(current, jwks.errors())],
    registryErrors: () => [...reporting.flatMap((f) => f.errors()), ...(imports?.errors() ?? [])],
    synced: () => synced,
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      jwks.close();
      imports?.close();
      for (const r of registries) r.close();
      await config.close();
    },
  };
}

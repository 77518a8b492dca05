import type { ServiceProtocol } from '../../../src/common/service-protocol.ts';
import type { WorkloadSpec } from '../../../src/common/workload.ts';
import type { ImportedEndpoint } from '../../../src/federation/federation-interface.ts';
import { parseConfigText } from '../../../src/pilot/config/index.ts';
import type { ConfigObject } from '../../../src/pilot/config/index.ts';
import { buildSnapshot, type Snapshot } from '../../../src/pilot/model/index.ts';
import { type RegistryShard, workloadShard } from '../../../src/pilot/registry/index.ts';
import type { ProxyNode } from '../../../src/xds/node.ts';

/**
 * A small fake of Pilot's inputs (after Istio's networking/core/fake.go): add workloads, imported
 * endpoints and YAML, then build a Snapshot. Defaults: cluster `east`, namespace `default`.
 */
export class SnapshotBuilder {
  readonly cluster: string;
  private gatewayAddress: string | undefined;
  private readonly local: WorkloadSpec[] = [];
  private readonly remote = new Map<string, ImportedEndpoint[]>();
  private readonly config: ConfigObject[] = [];

  private readonly dns: Snapshot['dns'];
  private readonly mesh: Snapshot['mesh'] | undefined;

  constructor(opts: { cluster?: string; gatewayAddress?: string; dns?: Snapshot['dns']; mesh?: Snapshot['mesh'] } = {}) {
    this.cluster = opts.cluster ?? 'east';
    this.gatewayAddress = opts.gatewayAddress;
    this.dns = opts.dns;
    this.mesh = opts.mesh;
  }

  gateway(address: string): this {
    this.gatewayAddress = address;
    return this;
  }

  /** A local workload `name` backing `service` on `port` (address 127.0.0.N by insertion order). */
  workload(
    name: string,
    service: string,
    port: number,
    more: Partial<Omit<WorkloadSpec, 'service'>> & { protocol?: ServiceProtocol } = {},
  ): this {
    const { protocol, ...rest } = more;
    this.local.push({
      name,
      namespace: 'default',
      serviceAccount: service,
      cluster: this.cluster,
      address: `127.0.1.${this.local.length + 1}`,
      labels: { app: service },
      sidecar: true,
      ...rest,
      service: { name: service, port, protocol: protocol ?? 'http' },
    });
    return this;
  }

  /**
   * An endpoint imported from `cluster`, behind its gateway `gateway`:15443; `endpointId` as a
   * peer whose gateway accepts endpoint-qualified SNIs publishes it (absent: an older peer).
   */
  imported(
    cluster: string,
    gateway: string,
    workload: string,
    service: string,
    port: number,
    labels: Record<string, string> = {},
    namespace = 'default',
    endpointId?: string,
    protocol?: ServiceProtocol,
  ): this {
    const list = this.remote.get(cluster) ?? [];
    list.push({
      cluster,
      namespace,
      service,
      hostname: `${service}.${namespace}.svc.cluster.local`,
      port,
      gateway: { address: gateway, port: 15443 },
      labels: { app: service, ...labels, 'topology.istio.io/cluster': cluster },
      workload,
      serviceAccount: service,
      ...(endpointId !== undefined ? { endpointId } : {}),
      ...(protocol !== undefined ? { protocol } : {}),
    });
    this.remote.set(cluster, list);
    return this;
  }

  /** Adds YAML config; throws (a broken fixture) when it does not validate. */
  yaml(text: string): this {
    const r = parseConfigText(text, 'test.yaml');
    if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
    this.config.push(...r.value);
    return this;
  }

  /** Adds config objects as they are (the same objects in every snapshot built from them). */
  objects(list: readonly ConfigObject[]): this {
    this.config.push(...list);
    return this;
  }

  shards(): RegistryShard[] {
    const shards: RegistryShard[] = [workloadShard({ registry: 'file', cluster: this.cluster, workloads: this.local, domainSuffix: 'cluster.local' })];
    for (const [cluster, imported] of this.remote) shards.push({ registry: 'federation', cluster, services: [], endpoints: [], imported });
    return shards;
  }

  /** `previous`: the snapshot this one replaces (structural sharing, as Pilot builds them). */
  build(version = 'v1', previous?: Snapshot): Snapshot {
    return buildSnapshot({
      ...(previous !== undefined ? { previous } : {}),
      cluster: this.cluster,
      trustDomain: 'cluster.local',
      domainSuffix: 'cluster.local',
      ...(this.gatewayAddress !== undefined ? { gatewayAddress: this.gatewayAddress } : {}),
      ...(this.dns !== undefined ? { dns: this.dns } : {}),
      ...(this.mesh !== undefined ? { mesh: this.mesh } : {}),
      shards: this.shards(),
      config: this.config,
      version,
    });
  }
}

export function proxyNode(type: ProxyNode['type'], more: Partial<ProxyNode> = {}): ProxyNode {
  return {
    id: `${type === 'router' ? 'router' : 'sidecar'}~127.0.1.1~productpage-v1.default~default.svc.cluster.local`,
    type,
    ip: '127.0.1.1',
    workload: 'productpage-v1',
    namespace: 'default',
    cluster: 'east',
    serviceAccount: 'productpage',
    labels: {},
    ...more,
  };
}

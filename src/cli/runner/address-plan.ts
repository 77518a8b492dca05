import type { Topology } from './topology.ts';

/**
 * Where each component of each cluster binds. Every workload gets its own address, so each can bind
 * Istio's standard ports.
 *
 * - loopback mode: `127.<block>.<cluster#>.<n>` — n=1 control plane, 2 gateway, 3 Consul, 10+ workloads.
 * - netns mode: each cluster is a network namespace on a bridge. Its node address
 *   `198.18.<block>.<cluster#>` (control plane, gateway, Consul) is reachable from the other
 *   clusters; its workloads live on `198.19.<block>.<cluster#*32+i>`, routed only from the host
 *   (the operator's namespace), never from another cluster. 198.18.0.0/15 is the range reserved for
 *   network test benches.
 *
 * `block` (1–250) keeps concurrent meshes (e.g. test files) on disjoint addresses.
 */
export type NetworkMode = 'loopback' | 'netns';

export interface ClusterPlan {
  index: number;
  name: string;
  controlPlane: string;
  gateway: string;
  consul: string;
  /** Index-aligned with the topology's workloads. */
  workloads: string[];
  /** netns mode only. */
  netns?: { name: string; hostVeth: string; nodeAddress: string; workloadCidr: string };
}

export interface AddressPlan {
  mode: NetworkMode;
  block: number;
  clusters: ClusterPlan[];
  /** netns mode only: the bridge in the host namespace and its address. */
  bridge?: { name: string; address: string; cidr: string };
}

export const MAX_WORKLOADS_NETNS = 30;

export function planAddresses(topology: Topology, mode: NetworkMode, block: number): AddressPlan {
  if (!Number.isInteger(block) || block < 1 || block > 250) throw new RangeError(`invalid address block ${block}`);
  const clusters = topology.clusters.map((c, i): ClusterPlan => {
    const n = i + 1;
    if (mode === 'loopback') {
      const base = `127.${block}.${n}`;
      return {
        index: i,
        name: c.name,
        controlPlane: `${base}.1`,
        gateway: `${base}.2`,
        consul: `${base}.3`,
        workloads: c.workloads.map((_, wi) => `${base}.${10 + wi}`),
      };
    }
    if (c.workloads.length > MAX_WORKLOADS_NETNS) {
      throw new RangeError(`cluster ${c.name}: at most ${MAX_WORKLOADS_NETNS} workloads in netns mode`);
    }
    const node = `198.18.${block}.${n}`;
    return {
      index: i,
      name: c.name,
      controlPlane: node,
      gateway: node,
      consul: node,
      workloads: c.workloads.map((_, wi) => `198.19.${block}.${n * 32 + 1 + wi}`),
      netns: {
        name: `mf${block}-${c.name}`.slice(0, 30),
        hostVeth: `mf${block}v${n}`,
        nodeAddress: node,
        workloadCidr: `198.19.${block}.${n * 32}/27`,
      },
    };
  });
  if (mode === 'loopback') return { mode, block, clusters };
  return { mode, block, clusters, bridge: { name: `mf${block}br`, address: `198.18.${block}.254`, cidr: '24' } };
}

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AddressPlan } from './address-plan.ts';

const run = promisify(execFile);

/**
 * Builds and removes the namespaces of a netns-mode plan with iproute2. Needs root (CAP_NET_ADMIN).
 * Each cluster namespace gets a veth to a bridge in the host namespace; the host routes to each
 * cluster's workload range, the clusters have no route to each other's workloads.
 */
export async function canUseNetns(): Promise<{ ok: boolean; reason: string }> {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'network namespaces need root' };
  try {
    await run('ip', ['netns', 'list']);
    return { ok: true, reason: '' };
  } catch (e: unknown) {
    return { ok: false, reason: `iproute2 \`ip netns\` is not usable: ${e instanceof Error ? e.message : String(e)}` };
  }
}

async function ip(args: string[]): Promise<void> {
  await run('ip', args);
}

async function ipQuiet(args: string[]): Promise<void> {
  try {
    await run('ip', args);
  } catch {
    // Removing something that is not there is fine.
  }
}

export async function setUpNetns(plan: AddressPlan): Promise<void> {
  const bridge = plan.bridge;
  if (!bridge) return;
  await tearDownNetns(plan);
  await ip(['link', 'add', bridge.name, 'type', 'bridge']);
  await ip(['addr', 'add', `${bridge.address}/${bridge.cidr}`, 'dev', bridge.name]);
  await ip(['link', 'set', bridge.name, 'up']);
  for (const c of plan.clusters) {
    const ns = c.netns;
    if (!ns) continue;
    await ip(['netns', 'add', ns.name]);
    await ip(['link', 'add', ns.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name]);
    await ip(['link', 'set', ns.hostVeth, 'master', bridge.name, 'up']);
    await ip(['-n', ns.name, 'link', 'set', 'lo', 'up']);
    await ip(['-n', ns.name, 'addr', 'add', `${ns.nodeAddress}/${bridge.cidr}`, 'dev', 'eth0']);
    await ip(['-n', ns.name, 'link', 'set', 'eth0', 'up']);
    for (const w of c.workloads) await ip(['-n', ns.name, 'addr', 'add', `${w}/32`, 'dev', 'lo']);
    await ip(['route', 'add', ns.workloadCidr, 'via', ns.nodeAddress]);
  }
}

export async function tearDownNetns(plan: AddressPlan): Promise<void> {
  for (const c of plan.clusters) {
    if (!c.netns) continue;
    await ipQuiet(['route', 'del', c.netns.workloadCidr]);
    await ipQuiet(['netns', 'del', c.netns.name]);
    await ipQuiet(['link', 'del', c.netns.hostVeth]);
  }
  if (plan.bridge) await ipQuiet(['link', 'del', plan.bridge.name]);
}

import { createHttpFilters } from '../dataplane/http/http-filter-registry.ts';
import type { FilterRequest, HttpFilter, LocalReply } from '../dataplane/http/http-filter-interface.ts';
import type { HttpFilterChain, RouteTable } from '../xds/config-types.ts';
import { LISTENER } from '../xds/naming.ts';
import type { ListenerContext } from './listener-context.ts';

/**
 * The outbound listener's HTTP chain as the current config has it: its route table and its HTTP
 * filter instances, shared by plain requests (outbound-listener.ts) and upgrades
 * (websocket-outbound.ts).
 */

/** The outbound listener's HTTP chain in the current config, if any. */
export function outboundChain(ctx: ListenerContext): HttpFilterChain | undefined {
  const listener = ctx.config().listeners.get(LISTENER.virtualOutbound);
  const chain = listener?.filterChains.find((c) => c.kind === 'http');
  return chain?.kind === 'http' ? chain : undefined;
}

/** The route table the outbound listener uses in the current config, if any. */
export function outboundRouteTable(ctx: ListenerContext): RouteTable | undefined {
  const chain = outboundChain(ctx);
  if (!chain) return undefined;
  return chain.routes ?? (chain.routeConfigName !== undefined ? ctx.config().routes.get(chain.routeConfigName) : undefined);
}

/** The filter instances of an HTTP chain, built once per chain config (configs are immutable). */
const filtersOfChain = new WeakMap<HttpFilterChain, HttpFilter[]>();

export function chainFilters(chain: HttpFilterChain | undefined, ctx: ListenerContext): HttpFilter[] {
  if (!chain || chain.httpFilters.length === 0) return NO_FILTERS;
  let filters = filtersOfChain.get(chain);
  if (!filters) {
    // A chain config belongs to one sidecar, so its filters count into that sidecar's stats.
    filters = createHttpFilters(chain.httpFilters, (name) => ctx.telemetry.countEnvoyStat(name));
    filtersOfChain.set(chain, filters);
  }
  return filters;
}

const NO_FILTERS: HttpFilter[] = [];

/** Runs the decode phase; resolves with the first local reply, or undefined to go on. */
export async function runFilters(filters: readonly HttpFilter[], freq: FilterRequest, from: number): Promise<LocalReply | undefined> {
  for (let i = from; i < filters.length; i++) {
    const d = await filters[i]!.onRequest(freq);
    if (d.kind === 'reply') return d.reply;
  }
  return undefined;
}

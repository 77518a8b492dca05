import type { AnyState } from './ads-client-state.ts';

/**
 * The DeltaDiscoveryRequest messages of the proxies' ADS client (ads-client.ts), in proto-loader's
 * shape. A request is one of: the first of a type on a stream (what it subscribes to and what it
 * already holds), an ACK or NACK of one response (its nonce; a NACK carries `error_detail`), or a
 * subscription change (names added and dropped, no nonce, so it is never read as an ACK).
 */

const CODE_INVALID_ARGUMENT = 3;

/** First request of `st` on a new stream; `wildcard` (LDS/CDS) subscribes to everything. */
export function deltaInitialRequest(st: AnyState, wildcard: boolean): Record<string, unknown> {
  return {
    type_url: st.desc.typeUrl,
    resource_names_subscribe: wildcard ? [] : [...st.names].sort(),
    initial_resource_versions: st.heldVersions(),
    response_nonce: '',
  };
}

/** ACK (no detail) or NACK of the response carrying `nonce`. */
export function deltaAnswer(st: AnyState, nonce: string, errorDetail?: string): Record<string, unknown> {
  const req: Record<string, unknown> = { type_url: st.desc.typeUrl, response_nonce: nonce };
  if (errorDetail !== undefined) req['error_detail'] = { code: CODE_INVALID_ARGUMENT, message: errorDetail };
  return req;
}

/** A subscription change: `wanted` replaces `st.names`; undefined when nothing differs. */
export function deltaSubscriptionChange(st: AnyState, wanted: ReadonlySet<string>): Record<string, unknown> | undefined {
  const subscribe = [...wanted].filter((n) => !st.names.has(n)).sort();
  const unsubscribe = [...st.names].filter((n) => !wanted.has(n)).sort();
  if (subscribe.length === 0 && unsubscribe.length === 0) return undefined;
  return { type_url: st.desc.typeUrl, resource_names_subscribe: subscribe, resource_names_unsubscribe: unsubscribe, response_nonce: '' };
}

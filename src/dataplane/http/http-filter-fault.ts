import { TYPED_CONFIG } from '../../xds/type-urls.ts';
import { CONTINUE, type FilterDecision, type FilterRequest, type HttpFilter } from './http-filter-interface.ts';

/**
 * Envoy's fault filter (`envoy.extensions.filters.http.fault.v3.HTTPFault`), configured per route:
 * a delay (response flag DI) and then an abort (FI), each applied to its share of requests. A gRPC
 * abort answers a trailers-only response with `grpc-status`.
 */

function chosen(perMillion: number, random: () => number): boolean {
  return perMillion >= 1_000_000 || (perMillion > 0 && random() * 1_000_000 < perMillion);
}

function abortOrContinue(req: FilterRequest): FilterDecision {
  const abort = req.route.perFilter.fault?.abort;
  if (!abort || !chosen(abort.perMillion, req.random)) return CONTINUE;
  req.flags.push('FI');
  if (abort.grpcStatus !== undefined) {
    return {
      kind: 'reply',
      reply: { status: 200, flag: 'FI', body: '', headers: { 'content-type': 'application/grpc', 'grpc-status': String(abort.grpcStatus), 'grpc-message': 'fault filter abort' } },
    };
  }
  return { kind: 'reply', reply: { status: abort.httpStatus ?? 503, flag: 'FI', body: 'fault filter abort' } };
}

export function createFaultFilter(): HttpFilter {
  return {
    typeUrl: TYPED_CONFIG.fault,
    onRequest(req) {
      const fault = req.route.perFilter.fault;
      if (!fault) return CONTINUE;
      const delay = fault.delay;
      if (!delay || delay.ms <= 0 || !chosen(delay.perMillion, req.random)) return abortOrContinue(req);
      req.flags.push('DI');
      return new Promise<FilterDecision>((resolve) => setTimeout(() => resolve(abortOrContinue(req)), delay.ms));
    },
  };
}

import type { DnsResolutionConfig, SocketAddr } from '../config-types.ts';
import { TYPED_CONFIG } from '../type-urls.ts';
import { type Issues, type Obj, isObj, join, list, onlyKeys, optDurationMs, optObj, reqObj, socketAddress } from './reader.ts';

/** Cluster fields that only DNS-resolved clusters may carry. */
export const DNS_FIELDS = ['dns_refresh_rate', 'respect_dns_ttl', 'dns_lookup_family', 'typed_dns_resolver_config'] as const;

/** Envoy's default `dns_refresh_rate`. */
const DEFAULT_REFRESH_MS = 5000;

/**
 * The DNS settings of a STRICT_DNS / LOGICAL_DNS cluster, as far as meshfed honours them:
 * `dns_refresh_rate`, `respect_dns_ttl`, `dns_lookup_family` V4_ONLY (the only family the proxies
 * resolve; Envoy's default AUTO is refused), and a c-ares `typed_dns_resolver_config` naming
 * resolvers (its other options are refused).
 */
export function dnsResolution(r: Obj, issues: Issues): DnsResolutionConfig {
  const refreshRateMs = optDurationMs(r, 'dns_refresh_rate', '', issues) ?? DEFAULT_REFRESH_MS;
  if (refreshRateMs < 1) issues.add('dns_refresh_rate', 'must be at least 1 ms');
  const respect = r['respect_dns_ttl'];
  if (respect !== undefined && typeof respect !== 'boolean') issues.add('respect_dns_ttl', 'not a boolean');
  if (r['dns_lookup_family'] !== 'V4_ONLY') issues.add('dns_lookup_family', 'only V4_ONLY is supported (IPv4 answers)');
  const resolvers: SocketAddr[] = [];
  const cfg = optObj(r, 'typed_dns_resolver_config', '', issues);
  if (cfg) {
    const p = 'typed_dns_resolver_config';
    onlyKeys(cfg, ['name', 'typed_config'], p, issues);
    const tc = reqObj(cfg, 'typed_config', p, issues);
    if (tc) {
      const tp = join(p, 'typed_config');
      if (tc['@type'] !== TYPED_CONFIG.caresDnsResolver) issues.add(tp, `unsupported DNS resolver ${JSON.stringify(tc['@type'])}`);
      else {
        onlyKeys(tc, ['@type', 'resolvers'], tp, issues);
        list(tc, 'resolvers', tp, issues).forEach((a, i) => {
          if (!isObj(a)) {
            issues.add(join(join(tp, 'resolvers'), i), 'not an object');
            return;
          }
          const addr = socketAddress({ [i]: a }, String(i), join(tp, 'resolvers'), issues);
          if (addr) resolvers.push(addr.port === 0 ? { host: addr.host, port: 53 } : addr);
        });
      }
    }
  }
  return { refreshRateMs, respectTtl: respect === true, resolvers };
}

/**
 * Envoy's filter chain selection by server name (FilterChainMatch `server_names`), pure: a chain
 * naming the SNI exactly wins; then the chain with the longest matching wildcard (`*.b.example.com`
 * before `*.example.com`; a wildcard never matches its bare suffix: `*.example.com` does not match
 * `example.com`); then a chain without server names. Without an SNI (no ClientHello, or one
 * without the extension) only a chain without server names can match. Names are compared in
 * lower case; chains keep their order among equals (the receiver refuses duplicates anyway).
 */
export function selectByServerName<T extends { serverNames: readonly string[] }>(chains: readonly T[], sni: string | undefined): T | undefined {
  const fallback = chains.find((c) => c.serverNames.length === 0);
  if (sni === undefined || sni === '') return fallback;
  const name = sni.toLowerCase();
  const exact = chains.find((c) => c.serverNames.includes(name));
  if (exact) return exact;
  const labels = name.split('.');
  for (let i = 1; i < labels.length; i++) {
    const wildcard = `*.${labels.slice(i).join('.')}`;
    const hit = chains.find((c) => c.serverNames.includes(wildcard));
    if (hit) return hit;
  }
  return fallback;
}

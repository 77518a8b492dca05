import { readFileSync } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import type tls from 'node:tls';
import { errorMessage } from '../common/errors.ts';
import { fail, ok, type Result } from '../common/result.ts';
import type { OriginationTls, UpstreamTls } from '../xds/config-types.ts';

/**
 * TLS options of an originating (non-mesh) upstream connection, from a cluster's validated
 * `UpstreamTls`: SNI, ALPN, client certificate (MUTUAL), trusted roots and the SAN check. Files
 * are read once per pushed cluster config (a new push reads them again); a missing or unreadable
 * file is an error, which the caller turns into a connection failure (UF), as Envoy refuses to
 * connect without its material.
 */
const cache = new WeakMap<UpstreamTls, Result<tls.ConnectionOptions, string>>();

function sansOf(cert: PeerCertificate): { type: 'DNS' | 'URI'; value: string }[] {
  const out: { type: 'DNS' | 'URI'; value: string }[] = [];
  for (const part of (cert.subjectaltname ?? '').split(/,\s*/)) {
    if (part.startsWith('DNS:')) out.push({ type: 'DNS', value: part.slice(4) });
    else if (part.startsWith('URI:')) out.push({ type: 'URI', value: part.slice(4) });
  }
  return out;
}

/** Envoy's exact typed SAN matching: the certificate must carry one of `wanted` (same type, same value). */
export function checkSubjectAltNames(wanted: OriginationTls['subjectAltNames'], cert: PeerCertificate): Error | undefined {
  if (wanted.length === 0) return undefined;
  const have = sansOf(cert);
  if (have.some((h) => wanted.some((w) => w.type === h.type && w.value === h.value))) return undefined;
  const list = wanted.map((w) => `${w.type}:${w.value}`).join(', ');
  return new Error(`server certificate SANs [${cert.subjectaltname ?? ''}] match none of ${list}`);
}

function build(t: UpstreamTls, o: OriginationTls): Result<tls.ConnectionOptions, string> {
  const read = (file: string): string => readFileSync(file, 'utf8');
  try {
    const options: tls.ConnectionOptions = {
      ALPNProtocols: t.alpn.length > 0 ? t.alpn : ['http/1.1'],
      rejectUnauthorized: o.caFile !== undefined,
      checkServerIdentity: (_host, cert) => checkSubjectAltNames(o.subjectAltNames, cert),
    };
    // Empty: no SNI, as Envoy without `sni` (Node would otherwise send the request's Host).
    options.servername = t.sni;
    if (o.caFile !== undefined) options.ca = read(o.caFile);
    if (o.certFile !== undefined) options.cert = read(o.certFile);
    if (o.keyFile !== undefined) options.key = read(o.keyFile);
    return ok(options);
  } catch (e: unknown) {
    return fail(`TLS origination material: ${errorMessage(e)}`);
  }
}

export function originationOptions(t: UpstreamTls): Result<tls.ConnectionOptions, string> | undefined {
  const o = t.origination;
  if (!o) return undefined;
  let r = cache.get(t);
  if (!r) {
    r = build(t, o);
    cache.set(t, r);
  }
  return r;
}

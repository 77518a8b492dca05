import type http2 from 'node:http2';
import type net from 'node:net';
import tls from 'node:tls';
import { PORTS } from '../common/ports.ts';
import { parseClientHello, proxyTcp, type TcpConnector } from '../dataplane/tcp/index.ts';
import type { ListenerConfig, TcpFilterChain } from '../xds/config-types.ts';
import { LISTENER, parseSni } from '../xds/naming.ts';
import type { CertBundle } from './cert-source.ts';
import type { ListenerContext } from './listener-context.ts';
import { clientPeerIdentityOfSocket, listenerTrustDomains } from './peer-identity.ts';
import { networkRbacAllows } from '../dataplane/tcp/network-rbac.ts';
import type { PeerMetadata } from './peer-metadata.ts';
import { PEER_EXCHANGE_ALPN, readPeerExchange } from './tcp-peer-exchange.ts';
import { destinationTcpObserver } from './tcp-telemetry.ts';
import { MESH_TLS_SERVER_POLICY } from './mesh-tls-policy.ts';

/**
 * ALPN values that mark a mesh TCP connection, as Istio's inbound listener matches them
 * (`istio-peer-exchange`, `istio`), plus meshfed's `meshfed-peer-exchange`; HTTP callers offer
 * `h2`. The inbound TCP server selects `meshfed-peer-exchange` (then reads the caller's metadata
 * frame, tcp-peer-exchange.ts) or `istio`; never `istio-peer-exchange`, whose frame it does not speak.
 */
export const MESH_TCP_ALPN_VALUES: readonly string[] = [PEER_EXCHANGE_ALPN, 'istio-peer-exchange', 'istio'];
const SERVER_ALPN = [PEER_EXCHANGE_ALPN, 'istio'];

/** Give up on a ClientHello that is not complete after this many bytes or this long. */
const MAX_HELLO_BYTES = 16 * 1024;
const HELLO_TIMEOUT_MS = 5000;

/** Whether a ClientHello's ALPN asks for raw mesh TCP rather than HTTP/2. */
export function isMeshTcpAlpn(alpn: readonly string[]): boolean {
  return !alpn.includes('h2') && alpn.some((a) => MESH_TCP_ALPN_VALUES.includes(a));
}

/**
 * The inbound tcp chain for a connection: a tcp chain of `virtualInbound` whose destinationPort
 * is the port in the caller's SNI (`outbound_.<port>_…`) and whose application_protocols (if any)
 * include the negotiated ALPN.
 */
export function selectInboundTcpChain(listener: ListenerConfig | undefined, sni: string, alpn: string): TcpFilterChain | undefined {
  const port = parseSni(sni)?.port;
  if (!listener || port === undefined) return undefined;
  return listener.filterChains.find(
    (c): c is TcpFilterChain =>
      c.kind === 'tcp' &&
      c.transportProtocol !== 'raw_buffer' &&
      c.destinationPort === port &&
      (c.applicationProtocols.length === 0 || c.applicationProtocols.includes(alpn)),
  );
}

/**
 * The inbound tcp chain for a plaintext connection (PERMISSIVE raw TCP): a `raw_buffer` tcp chain
 * of `virtualInbound`, the one for `port` when the connection's original destination port is
 * known, else the only one (one TCP port on the workload). Several tcp ports and no original
 * destination: none (the connection cannot be told apart, so it is refused).
 */
export function selectPlaintextTcpChain(listener: ListenerConfig | undefined, port?: number): TcpFilterChain | undefined {
  const chains = (listener?.filterChains ?? []).filter((c): c is TcpFilterChain => c.kind === 'tcp' && c.transportProtocol === 'raw_buffer');
  if (port !== undefined) return chains.find((c) => c.destinationPort === port);
  return chains.length === 1 ? chains[0] : undefined;
}

/** The HTTP/2 connection preface (RFC 9113 §3.4), which plaintext HTTP/2 callers send first. */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const TLS_HANDSHAKE = 0x16;

/**
 * What the first bytes of an inbound connection are: TLS (a handshake record), plaintext HTTP/2
 * (the preface), raw plaintext (anything else), or not known yet (a prefix of the preface).
 */
export function classifyInboundBytes(head: Buffer): 'tls' | 'h2' | 'raw' | 'incomplete' {
  if (head.length === 0) return 'incomplete';
  if (head[0] === TLS_HANDSHAKE) return 'tls';
  const n = Math.min(head.length, H2_PREFACE.length);
  if (head.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) return n === H2_PREFACE.length ? 'h2' : 'incomplete';
  return 'raw';
}

/**
 * Adds raw mesh TCP to the inbound listener (15006), as Envoy's tls_inspector and
 * `application_protocols` filter chain matches do for Istio: each accepted connection's
 * ClientHello is read (not consumed); one whose ALPN offers `istio`/`istio-peer-exchange` and not
 * `h2` is terminated here with mesh mTLS (client certificate chaining to our roots, well-formed
 * SPIFFE ID) and its bytes are proxied to the app port of the tcp chain its SNI names, with the
 * caller's SPIFFE ID in the `istio_tcp_*` metrics. A plaintext connection that is not HTTP/2
 * (PERMISSIVE raw TCP: a caller whose DestinationRule sets tls DISABLE, or a caller outside the
 * mesh) goes to the `raw_buffer` tcp chain (selectPlaintextTcpChain) without a peer identity, as
 * Istio's PERMISSIVE inbound does; like Istio's, it waits for the caller's first bytes, so a
 * server-first protocol needs mTLS. Every other connection (HTTP/2 over mTLS, plaintext HTTP/2)
 * goes on to the listeners installed before, unchanged. Call after acceptPlaintext.
 */
export function acceptMeshTcp(server: http2.Http2SecureServer, ctx: ListenerContext, connector: TcpConnector): void {
  const previous = server.listeners('connection') as ((socket: net.Socket) => void)[];
  server.removeAllListeners('connection');
  let context: { bundle: CertBundle; secure: tls.SecureContext } | undefined;
  const secureContext = (): tls.SecureContext => {
    const bundle = ctx.certificate();
    if (context?.bundle !== bundle) {
      context = { bundle, secure: tls.createSecureContext({ key: bundle.privateKeyPem, cert: bundle.certChainPem, ca: bundle.rootsPem, ...MESH_TLS_SERVER_POLICY }) };
    }
    return context.secure;
  };
  const tcpServer = tls.createServer({
    SNICallback: (_name, cb) => cb(null, secureContext()),
    ...MESH_TLS_SERVER_POLICY,
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: SERVER_ALPN,
    allowHalfOpen: true,
  });
  tcpServer.on('tlsClientError', (e: Error, socket: tls.TLSSocket) => {
    ctx.logger.debug({ err: e.message }, 'inbound tcp handshake failed');
    socket.destroy();
  });
  tcpServer.on('secureConnection', (socket: tls.TLSSocket) => {
    const peer = clientPeerIdentityOfSocket(socket, ctx.certificate().spiffeId, listenerTrustDomains(ctx.config().listeners.get(LISTENER.virtualInbound)));
    if (!peer.ok) {
      ctx.logger.warn({ remote: socket.remoteAddress, errors: peer.errors }, 'inbound tcp peer rejected');
      socket.destroy();
      return;
    }
    const sni = typeof socket.servername === 'string' ? socket.servername : '';
    const chain = selectInboundTcpChain(ctx.config().listeners.get(LISTENER.virtualInbound), sni, socket.alpnProtocol || '');
    if (!chain) {
      ctx.logger.debug({ sni }, 'no inbound tcp chain for the SNI');
      socket.destroy();
      return;
    }
    const principal = peer.value.spiffeId.replace(/^spiffe:\/\//, '');
    const facts = {
      principal,
      namespace: /\/ns\/([^/]+)\//.exec(principal)?.[1],
      sourceIp: socket.remoteAddress ?? '',
      remoteIp: socket.remoteAddress ?? '',
      destinationIp: socket.localAddress ?? '',
      destinationPort: chain.destinationPort ?? socket.localPort ?? 0,
      sni,
    };
    if (!networkRbacAllows(chain, facts, (name) => ctx.telemetry.countEnvoyStat(name))) {
      ctx.logger.debug({ remote: socket.remoteAddress, principal, port: facts.destinationPort }, 'inbound tcp connection denied by RBAC');
      socket.destroy();
      return;
    }
    const start = (metadata: PeerMetadata | undefined, head: Buffer | undefined): void => {
      const caller = { principal: peer.value.spiffeId, service: parseSni(sni)?.hostname ?? '', ...(metadata ? { metadata } : {}) };
      proxyTcp(socket, chain, { clusters: ctx.clusters, random: ctx.random, connector, observer: destinationTcpObserver(ctx, caller), logger: ctx.logger }, head);
    };
    if (socket.alpnProtocol !== PEER_EXCHANGE_ALPN) {
      start(undefined, undefined);
      return;
    }
    void readPeerExchange(socket).then((frame) => {
      if (!frame) {
        socket.destroy();
        return;
      }
      start(frame.metadata, frame.rest.length > 0 ? frame.rest : undefined);
    });
  });

  server.on('connection', (socket: net.Socket) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const handOff = (tcp: boolean): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      if (size > 0) socket.unshift(Buffer.concat(chunks, size));
      if (tcp) {
        // The HTTP/2 server accepted it without half-open; raw TCP keeps writing after the peer's FIN.
        socket.allowHalfOpen = true;
        tcpServer.emit('connection', socket);
        return;
      }
      for (const l of previous) l.call(server, socket);
      socket.resume();
    };
    const plaintextTcp = (chain: TcpFilterChain): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      socket.allowHalfOpen = true;
      const head = Buffer.concat(chunks, size);
      const facts = {
        principal: undefined,
        namespace: undefined,
        sourceIp: socket.remoteAddress ?? '',
        remoteIp: socket.remoteAddress ?? '',
        destinationIp: socket.localAddress ?? '',
        destinationPort: chain.destinationPort ?? 0,
        sni: '',
      };
      if (!networkRbacAllows(chain, facts, (name) => ctx.telemetry.countEnvoyStat(name))) {
        socket.destroy();
        return;
      }
      // No peer identity: Istio's PERMISSIVE plaintext, reported with connection_security_policy none.
      const service = ctx.config().clusters.get(chain.clusters[0]?.name ?? '')?.serviceHost ?? '';
      proxyTcp(socket, chain, { clusters: ctx.clusters, random: ctx.random, connector, observer: destinationTcpObserver(ctx, { principal: '', service, plaintext: true }), logger: ctx.logger }, head);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      const all = chunks.length === 1 ? chunk : Buffer.concat(chunks, size);
      const kind = classifyInboundBytes(all);
      if (kind === 'incomplete') return;
      if (kind === 'raw') {
        // Capture mode: the original destination port names the chain; a port without a raw_buffer
        // chain (an HTTP port, a probe) goes on to the plaintext handlers (inbound passthrough).
        const dst = ctx.originalDst?.(socket);
        const port = dst?.ok && dst.value.port !== PORTS.sidecarInbound ? dst.value.port : undefined;
        const chain = selectPlaintextTcpChain(ctx.config().listeners.get(LISTENER.virtualInbound), port);
        if (chain) {
          plaintextTcp(chain);
          return;
        }
      }
      if (kind !== 'tls') {
        handOff(false);
        return;
      }
      const hello = parseClientHello(all);
      if (hello.status === 'incomplete' && size <= MAX_HELLO_BYTES) return;
      handOff(hello.status === 'ok' && isMeshTcpAlpn(hello.alpn));
    };
    const timer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    timer.unref();
    socket.on('data', onData);
    socket.once('close', () => clearTimeout(timer));
    socket.once('error', () => socket.destroy());
  });
}

import net from 'node:net';
import tls from 'node:tls';
import { errorMessage } from '../common/errors.ts';
import { fail, ok, type Result } from '../common/result.ts';
import type { TcpConnector, UpstreamConnection } from '../dataplane/tcp/index.ts';
import type { ClusterConfig, EndpointConfig } from '../xds/config-types.ts';
import type { CertBundle } from './cert-source.ts';
import { originationOptions } from './origination-tls.ts';
import { meshServerIdentityCheck, peerIdentityOfSocket } from './peer-identity.ts';
import { PEER_EXCHANGE_ALPN, peerExchangeFrame } from './tcp-peer-exchange.ts';

/** tls.connect passes `allowHalfOpen` to its socket; @types/node 20 does not list it. */
type HalfOpenTlsOptions = tls.ConnectionOptions & { allowHalfOpen: boolean };

/**
 * The sidecar's TcpConnector:
 * - mesh mTLS to a `tlsMode: istio` endpoint of a cluster with mesh TLS: TLS to the endpoint's
 *   inbound port (or its cluster's gateway), SNI the endpoint's (`meshfed.sni`) or the cluster's,
 *   ALPN the cluster's (Pilot sends `istio-peer-exchange, istio` for tcp ports, which the
 *   destination's inbound listener tells from `h2`: src/sidecar/inbound-tcp.ts), our Citadel certificate; the
 *   server must chain to our roots and carry a SPIFFE ID, one of the cluster's `serverSans` when
 *   it names any (`onSanMismatch` counts a refusal), which becomes the upstream peer;
 * - TLS origination (DestinationRule SIMPLE / MUTUAL) with the cluster's files;
 * - otherwise plaintext TCP: tls DISABLE toward a mesh workload dials its sidecar's inbound port
 *   (`meshfed.inbound_port`), whose `raw_buffer` chain takes it as Istio's PERMISSIVE mode does
 *   (inbound-tcp.ts); any other endpoint (outside the mesh, no sidecar) at its own address.
 * `plaintextSourceAddress` (the inbound connector of a capture sidecar: 127.0.0.6) is the source
 * of plaintext connections, so that the capture rules do not redirect them back to the sidecar.
 * Every attempt is bounded by the cluster's connect timeout. When the server selects
 * `meshfed-peer-exchange`, our `peerMetadata` frame goes first (tcp-peer-exchange.ts).
 */
export function sidecarTcpConnector(
  certificate: () => CertBundle,
  peerMetadata?: string,
  plaintextSourceAddress?: string,
  onSanMismatch?: (cluster: string) => void,
): TcpConnector {
  return {
    connect(cluster: ClusterConfig, endpoint: EndpointConfig): UpstreamConnection {
      const t = cluster.tls;
      const mesh = t !== undefined && t.origination === undefined && endpoint.tlsMode === 'istio';
      let socket: net.Socket;
      let readyEvent: 'connect' | 'secureConnect';
      if (mesh) {
        const bundle = certificate();
        const sni = endpoint.sni ?? t.sni;
        const options: HalfOpenTlsOptions = {
          host: endpoint.address.host,
          port: endpoint.inboundPort ?? endpoint.address.port,
          ...(sni !== '' ? { servername: sni } : {}),
          ALPNProtocols: t.alpn,
          key: bundle.privateKeyPem,
          cert: bundle.certChainPem,
          ca: bundle.rootsPem,
          checkServerIdentity: meshServerIdentityCheck(t.serverSans, onSanMismatch && (() => onSanMismatch(cluster.name))),
          allowHalfOpen: true,
        };
        socket = tls.connect(options);
        readyEvent = 'secureConnect';
      } else if (t?.origination !== undefined) {
        const options = originationOptions(t);
        if (!options?.ok) {
          const s = new net.Socket();
          return { socket: s, ready: Promise.resolve(fail(options?.errors ?? 'TLS origination material missing')) };
        }
        const halfOpen: HalfOpenTlsOptions = { ...options.value, host: endpoint.address.host, port: endpoint.address.port, allowHalfOpen: true };
        socket = tls.connect(halfOpen);
        readyEvent = 'secureConnect';
      } else {
        // tls DISABLE toward a mesh workload, or its PeerAuthentication DISABLE (`tlsMode: disabled` with an
        // inbound port): plaintext to its sidecar's inbound port (raw_buffer chain).
        const port = t?.origination === undefined && endpoint.inboundPort !== undefined ? endpoint.inboundPort : endpoint.address.port;
        socket = net.connect({
          host: endpoint.address.host,
          port,
          allowHalfOpen: true,
          ...(plaintextSourceAddress !== undefined ? { localAddress: plaintextSourceAddress } : {}),
        });
        readyEvent = 'connect';
      }
      socket.setNoDelay(true);
      const ready = new Promise<Result<{ peer?: string }, string>>((resolve) => {
        const timer = setTimeout(() => {
          resolve(fail(`connect timeout after ${cluster.connectTimeoutMs} ms`));
          socket.destroy();
        }, cluster.connectTimeoutMs);
        timer.unref();
        const onError = (e: unknown): void => {
          clearTimeout(timer);
          resolve(fail(errorMessage(e)));
        };
        socket.once('error', onError);
        socket.once('close', () => onError(new Error('closed before connecting')));
        socket.once(readyEvent, () => {
          clearTimeout(timer);
          socket.off('error', onError);
          if (!mesh) {
            resolve(ok({}));
            return;
          }
          const peer = peerIdentityOfSocket(socket as tls.TLSSocket);
          if (!peer.ok) {
            resolve(fail(peer.errors.join('; ')));
            socket.destroy();
            return;
          }
          if (peerMetadata !== undefined && (socket as tls.TLSSocket).alpnProtocol === PEER_EXCHANGE_ALPN) socket.write(peerExchangeFrame(peerMetadata));
          resolve(ok({ peer: peer.value.spiffeId }));
        });
      });
      return { socket, ready };
    },
  };
}

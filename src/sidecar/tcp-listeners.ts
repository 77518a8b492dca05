import net from 'node:net';
import { errorMessage } from '../common/errors.ts';
import { fail, ok, type Result } from '../common/result.ts';
import { peekClientHello, proxyTcp, selectByServerName, type TcpConnector } from '../dataplane/tcp/index.ts';
import type { ListenerConfig, ProxyConfig, SocketAddr, TcpFilterChain } from '../xds/config-types.ts';
import { LISTENER } from '../xds/naming.ts';
import { ListenerBindError } from './errors.ts';
import type { ListenerContext } from './listener-context.ts';
import { sourceTcpObserver } from './tcp-telemetry.ts';

interface BoundTcpListener {
  key: string;
  server: net.Server;
  address: SocketAddr;
  sockets: Set<net.Socket>;
}

/** Whether a listener is one of the sidecar's outbound TCP listeners (`0.0.0.0_<port>`): a socket listener of tcp_proxy chains only. */
export function isOutboundTcpListener(l: ListenerConfig): boolean {
  return (
    l.name !== LISTENER.virtualInbound &&
    l.name !== LISTENER.virtualOutbound &&
    l.address !== undefined &&
    l.filterChains.length > 0 &&
    l.filterChains.every((c) => c.kind === 'tcp')
  );
}

/**
 * The chain for a connection from the app, by the SNI of its own ClientHello (undefined: no TLS,
 * or no SNI): among the tcp chains that ask for no ALPN, Envoy's server-name order (exact, longest
 * wildcard, then the chain without server names, which Pilot always sends).
 */
export function selectOutboundTcpChain(l: ListenerConfig | undefined, sni?: string): TcpFilterChain | undefined {
  const chains = (l?.filterChains ?? []).filter((c): c is TcpFilterChain => c.kind === 'tcp' && c.applicationProtocols.length === 0);
  return selectByServerName(chains, sni);
}

/** Whether connections to this listener are peeked for their ClientHello (tls_inspector and some chain matching server names). */
function sniRouted(l: ListenerConfig | undefined): boolean {
  return l?.tlsInspector === true && l.filterChains.some((c) => c.serverNames.length > 0);
}

/** Envoy's default `listener_filters_timeout`: a client that sends no whole ClientHello in time is closed. */
export const CLIENT_HELLO_TIMEOUT_MS = 15_000;

/**
 * The sidecar's outbound TCP listeners, one net.Server per `0.0.0.0_<port>` listener, bound on the
 * listener's address and port. A listener with tls_inspector and server-name chains peeks each
 * connection's ClientHello first (client-hello-peek.ts) and picks the chain by its SNI. Contract: `apply(config)` after every applied config binds new or
 * moved listeners and closes removed ones (their open connections are destroyed); each new
 * connection reads the listener's chain from the config current when it arrives. A listener with
 * `bindToPort: false` (capture) is not bound: virtualOutbound finds it by the original
 * destination port (`capturedListener`) and hands it the connection (`accept`).
 */
export class TcpListeners {
  readonly #ctx: ListenerContext;
  readonly #connector: TcpConnector;
  readonly #bound = new Map<string, BoundTcpListener>();

  readonly #helloTimeoutMs: number;
  /** Connections handed over by virtualOutbound (capture) and their upstreams, destroyed on close(). */
  readonly #captured = new Set<net.Socket>();
  readonly #capturedObserver: ReturnType<typeof sourceTcpObserver>;

  constructor(ctx: ListenerContext, connector: TcpConnector, helloTimeoutMs = CLIENT_HELLO_TIMEOUT_MS) {
    this.#ctx = ctx;
    this.#connector = connector;
    this.#helloTimeoutMs = helloTimeoutMs;
    this.#capturedObserver = sourceTcpObserver(ctx);
  }

  address(name: string): SocketAddr | undefined {
    return this.#bound.get(name)?.address;
  }

  names(): string[] {
    return [...this.#bound.keys()];
  }

  async apply(config: ProxyConfig): Promise<ListenerBindError[]> {
    const errors: ListenerBindError[] = [];
    // `bind_to_port: false` listeners (capture) bind nothing: virtualOutbound hands them connections.
    const wanted = [...config.listeners.values()].filter((l) => isOutboundTcpListener(l) && l.bindToPort !== false);
    const names = new Set(wanted.map((l) => l.name));
    for (const [name, b] of this.#bound) {
      if (names.has(name)) continue;
      this.#bound.delete(name);
      this.#stop(b);
    }
    for (const l of wanted) {
      const address = l.address;
      if (!address) continue;
      const key = `${address.host}:${address.port}`;
      const existing = this.#bound.get(l.name);
      if (existing?.key === key) continue;
      if (existing) {
        this.#bound.delete(l.name);
        this.#stop(existing);
      }
      const started = await this.#start(l.name, address);
      if (started.ok) this.#bound.set(l.name, started.value);
      else errors.push(started.errors);
    }
    return errors;
  }

  async close(): Promise<void> {
    const all = [...this.#bound.values()];
    this.#bound.clear();
    for (const s of this.#captured) s.destroy();
    await Promise.all(all.map((b) => this.#stop(b)));
  }

  /**
   * The listener for a connection captured by virtualOutbound whose original destination port is
   * `port`: the `bindToPort: false` listener on that port, if the current config has one.
   */
  capturedListener(port: number): string | undefined {
    for (const l of this.#ctx.config().listeners.values()) {
      if (isOutboundTcpListener(l) && l.bindToPort === false && l.address?.port === port) return l.name;
    }
    return undefined;
  }

  /** Serves a connection handed over by virtualOutbound (capture) as listener `name` would. */
  accept(name: string, socket: net.Socket): void {
    this.#captured.add(socket);
    socket.once('close', () => this.#captured.delete(socket));
    this.#serve(name, socket, (s) => {
      this.#captured.add(s);
      s.once('close', () => this.#captured.delete(s));
    }, this.#capturedObserver);
  }

  /**
   * Serves a connection virtualOutbound (capture) matched to its default tcp_proxy chain (Istio's
   * PassthroughFilterChain): `originalDst` is the one host of an ORIGINAL_DST cluster
   * (PassthroughCluster); BlackHoleCluster has none, so the connection is closed (UH).
   */
  acceptDefault(chain: TcpFilterChain, socket: net.Socket, originalDst: SocketAddr): void {
    this.#captured.add(socket);
    socket.once('close', () => this.#captured.delete(socket));
    const track = (s: net.Socket): void => {
      this.#captured.add(s);
      s.once('close', () => this.#captured.delete(s));
    };
    proxyTcp(socket, chain, { clusters: this.#ctx.clusters, random: this.#ctx.random, connector: this.#connector, observer: this.#capturedObserver, logger: this.#ctx.logger, track, originalDst });
  }

  /** Proxies one app connection through the chain of listener `name` (its SNI chain when it routes by SNI). */
  #serve(name: string, socket: net.Socket, track: (s: net.Socket) => void, observer: ReturnType<typeof sourceTcpObserver>): void {
    const proxy = (chain: TcpFilterChain | undefined): void => {
      if (!chain) {
        socket.destroy();
        return;
      }
      proxyTcp(socket, chain, { clusters: this.#ctx.clusters, random: this.#ctx.random, connector: this.#connector, observer, logger: this.#ctx.logger, track });
    };
    const listener = this.#ctx.config().listeners.get(name);
    if (!sniRouted(listener)) {
      proxy(selectOutboundTcpChain(listener));
      return;
    }
    // The app's own TLS passes through unchanged: the hello is only read, never answered.
    void peekClientHello(socket, { timeoutMs: this.#helloTimeoutMs }).then((peek) => {
      if (peek.kind === 'closed') {
        this.#ctx.logger.debug({ listener: name, reason: peek.reason }, 'tcp connection closed while reading its ClientHello');
        return;
      }
      proxy(selectOutboundTcpChain(this.#ctx.config().listeners.get(name), peek.kind === 'tls' ? peek.sni : undefined));
    });
  }

  #start(name: string, address: SocketAddr): Promise<Result<BoundTcpListener, ListenerBindError>> {
    const sockets = new Set<net.Socket>();
    const track = (s: net.Socket): void => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    };
    const observer = sourceTcpObserver(this.#ctx);
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      track(socket);
      this.#serve(name, socket, track, observer);
    });
    return new Promise((resolve) => {
      const onError = (e: unknown): void => resolve(fail(new ListenerBindError(`cannot bind ${address.host}:${address.port}: ${errorMessage(e)}`, { cause: e })));
      server.once('error', onError);
      server.listen(address.port, address.host, () => {
        server.off('error', onError);
        this.#ctx.logger.info({ listener: name, address: `${address.host}:${address.port}` }, 'tcp listener bound');
        resolve(ok({ key: `${address.host}:${address.port}`, server, address, sockets }));
      });
    });
  }

  #stop(b: BoundTcpListener): Promise<void> {
    return new Promise((resolve) => {
      b.server.close(() => resolve());
      for (const s of b.sockets) s.destroy();
    });
  }
}

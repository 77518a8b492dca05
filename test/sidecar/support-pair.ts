import { pino } from 'pino';
import { createDataPlane, type DataPlane, type ListenerBounds, StaticCertificateSource } from '../../src/sidecar/index.ts';
import type { ClusterConfig, HttpFilterChain, HttpFilterConfig, ListenerConfig, RouteConfig } from '../../src/xds/config-types.ts';
import { outboundClusterName, ROUTE_OUTBOUND, serviceHostname } from '../../src/xds/naming.ts';
import { createTestCa, type TestCa } from './support-certs.ts';
import { endpoint, inboundCluster, inboundListener, meshCluster, outboundListener, proxyConfig, route } from './support-config.ts';

/**
 * A sidecar pair on real sockets with certificates from a real Citadel CA: the app's outbound
 * sidecar at `client` (:15001) → mesh mTLS h2 → the inbound sidecar at `server` (:15006) → the
 * app at `server:appPort`. The outbound routes `service` (and `service:appPort`) with `routes`
 * (default: everything to the service's cluster); `inbound` edits the inbound cluster (e.g. its
 * upstream protocol). The caller owns the app; `close()` stops both sidecars and the CA.
 */
export interface SidecarPair {
  client: DataPlane;
  server: DataPlane;
  outbound: { host: string; port: number };
  clusterName: string;
  /** The CA that issued both sidecars' certificates (to mint a test client of the same mesh). */
  ca: TestCa;
  /** Each sidecar's certificate source: `rotate()` swaps its certificate or trust bundle live. */
  clientCerts: StaticCertificateSource;
  serverCerts: StaticCertificateSource;
  close(): Promise<void>;
}

export async function startSidecarPair(opts: {
  client: string;
  server: string;
  service: string;
  appPort: number;
  routes?: (clusterName: string) => RouteConfig[];
  inbound?: (c: ClusterConfig) => ClusterConfig;
  outbound?: (c: ClusterConfig) => ClusterConfig;
  /** HTTP filters of the outbound listener's chain (before the router). */
  outboundFilters?: HttpFilterConfig[];
  /** HTTP filters of the inbound listener's chain (before the router), e.g. RBAC. */
  inboundFilters?: HttpFilterConfig[];
  /** More settings of the inbound HTTP chains (e.g. pathNormalization), and of the outbound one. */
  inboundChain?: Partial<HttpFilterChain>;
  outboundChain?: Partial<HttpFilterChain>;
  /** Trust domains the inbound mTLS chain accepts (DownstreamTls.trustDomains); absent: its own. */
  inboundTrustDomains?: string[];
  /** The caller's trust domain (default the CA's): a certificate of the same CA in another trust domain. */
  clientTrustDomain?: string;
  /** More outbound clusters (no endpoints unless `endpoints` names them), and their endpoints. */
  extraClusters?: ClusterConfig[];
  /** Websocket enabled on both connection managers (`upgrade_configs`), extended CONNECT inbound. */
  websocket?: boolean;
  /** Listener bounds (listener-bounds.ts) of the client sidecar, and of the server sidecar. */
  bounds?: Partial<ListenerBounds>;
  serverBounds?: Partial<ListenerBounds>;
}): Promise<SidecarPair> {
  const logger = pino({ level: 'silent' });
  const ca: TestCa = await createTestCa('east');
  const planes: DataPlane[] = [];
  try {
    const host = serviceHostname(opts.service, 'default');
    const clusterName = outboundClusterName(opts.appPort, '', host);
    const clientCerts = new StaticCertificateSource(ca.issue('default', 'caller', undefined, opts.clientTrustDomain));
    const serverCerts = new StaticCertificateSource(ca.issue('default', opts.service));
    const client = await createDataPlane({
      workload: { name: 'caller-v1', namespace: 'default', serviceAccount: 'caller', cluster: 'east', address: opts.client, labels: { app: 'caller', version: 'v1' } },
      certificates: clientCerts,
      logger,
      ...(opts.bounds ? { bounds: opts.bounds } : {}),
    });
    planes.push(client);
    const server = await createDataPlane({
      workload: { name: `${opts.service}-v1`, namespace: 'default', serviceAccount: opts.service, cluster: 'east', address: opts.server, labels: { app: opts.service, version: 'v1' } },
      certificates: serverCerts,
      logger,
      ...(opts.serverBounds ? { bounds: opts.serverBounds } : {}),
    });
    planes.push(server);
    const routes = opts.routes?.(clusterName) ?? [route('default', clusterName)];
    const outboundCluster = (opts.outbound ?? ((c) => c))(meshCluster(opts.service, 'default', opts.appPort));
    const c = await client.applyConfig(
      proxyConfig({
        listeners: [withChain(outboundListener(opts.client), { httpFilters: opts.outboundFilters ?? [], ...(opts.websocket ? { websocket: true } : {}), ...opts.outboundChain })],
        routes: [{ name: ROUTE_OUTBOUND, virtualHosts: [{ name: opts.service, domains: [host, `${host}:${opts.appPort}`, opts.service, `${opts.service}:${opts.appPort}`], routes }] }],
        clusters: [outboundCluster, ...(opts.extraClusters ?? [])],
        endpoints: [
          {
            clusterName,
            endpoints: [endpoint(opts.server, opts.appPort, { tlsMode: 'istio', inboundPort: 15006, workload: `${opts.service}-v1`, namespace: 'default', cluster: 'east' })],
          },
        ],
      }),
    );
    if (!c.ok) throw c.errors[0];
    const inbound = (opts.inbound ?? ((x) => x))(inboundCluster(opts.server, opts.appPort));
    const inboundL = withChain(inboundListener(opts.server, [opts.appPort]), {
      ...(opts.websocket ? { websocket: true, allowConnect: true } : {}),
      ...(opts.inboundFilters ? { httpFilters: opts.inboundFilters } : {}),
      ...opts.inboundChain,
    });
    if (opts.inboundTrustDomains) {
      const tds = opts.inboundTrustDomains;
      inboundL.filterChains = inboundL.filterChains.map((c) => (c.tls ? { ...c, tls: { ...c.tls, trustDomains: tds } } : c));
    }
    const s = await server.applyConfig(proxyConfig({ listeners: [inboundL], clusters: [inbound] }));
    if (!s.ok) throw s.errors[0];
    return {
      client,
      server,
      outbound: { host: opts.client, port: 15001 },
      clusterName,
      ca,
      clientCerts,
      serverCerts,
      close: async () => {
        await Promise.all(planes.map((p) => p.close()));
        await ca.dispose();
      },
    };
  } catch (e: unknown) {
    await Promise.all(planes.map((p) => p.close()));
    await ca.dispose();
    throw e;
  }
}

/** The first line of a Prometheus text exposition with this metric name and these labels. */
export function metricLine(text: string, name: string, labels: Record<string, string>): string | undefined {
  return text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
}

function withChain(l: ListenerConfig, extra: Partial<HttpFilterChain>): ListenerConfig {
  return { ...l, filterChains: l.filterChains.map((c) => (c.kind === 'http' ? { ...c, ...extra } : c)) };
}

import http from 'node:http';
import http2 from 'node:http2';
import test from 'ava';
import type { ClusterConfig } from '../../src/xds/config-types.ts';
import { endpoint, closeHttp, httpRequest, listenOn, match, route } from './support-config.ts';
import { type SidecarPair, startSidecarPair } from './support-pair.ts';

/**
 * Header hygiene both ways (issue 8 §5 case 6) on a real sidecar pair: the app's outbound
 * :15001 at 127.185.2.1 → (a) mesh mTLS to the inbound :15006 at 127.185.2.2, (b) plaintext h2c
 * to the same inbound (a DISABLE peer), (c) plaintext HTTP/1.1 to an app outside the mesh at
 * 127.185.2.3; and an outside caller straight to the inbound's plaintext (PERMISSIVE) chain.
 * Both apps echo the request headers they received and answer with forged internal and
 * hop-by-hop headers. Neither direction may let them through.
 */
const CLIENT = '127.185.2.1';
const SERVER = '127.185.2.2';
const PLAIN = '127.185.2.3';
const APP_PORT = 9080;
const PLAIN_PORT = 9081;
const HOST = `echo:${APP_PORT}`;
const PLAIN_CLUSTER = `outbound|${PLAIN_PORT}||plain.example`;
const DISABLE_CLUSTER = `outbound|${APP_PORT}|disable|echo.default.svc.cluster.local`;

/** Echoes the request headers as JSON; forges internal, Connection-nominated and hop-by-hop response headers. */
function echo(req: http.IncomingMessage, res: http.ServerResponse): void {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, {
      'content-type': 'application/json',
      'x-meshfed-response-flags': 'FORGED',
      'x-meshfed-peer-metadata': 'Zm9yZ2Vk',
      'x-envoy-upstream-service-time': '0',
      'x-envoy-forged': '1',
      'proxy-connection': 'keep-alive',
      connection: 'keep-alive, x-resp-nominated',
      'x-resp-nominated': 'secret',
      'x-kept-response': 'yes',
    });
    res.end(JSON.stringify(req.headers));
  });
}
const app = http.createServer(echo);
const plainApp = http.createServer(echo);
let pair: SidecarPair;

test.before(async () => {
  await listenOn(app, SERVER, APP_PORT);
  await listenOn(plainApp, PLAIN, PLAIN_PORT);
  const plainCluster: ClusterConfig = { name: PLAIN_CLUSTER, type: 'STATIC', edsServiceName: PLAIN_CLUSTER, lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 1000, staticEndpoints: [endpoint(PLAIN, PLAIN_PORT)] };
  const disableCluster: ClusterConfig = {
    name: DISABLE_CLUSTER,
    edsServiceName: DISABLE_CLUSTER,
    type: 'STATIC',
    lbPolicy: 'ROUND_ROBIN',
    connectTimeoutMs: 1000,
    staticEndpoints: [endpoint(SERVER, APP_PORT, { inboundPort: 15006, tlsMode: 'disabled' })],
  };
  pair = await startSidecarPair({
    client: CLIENT,
    server: SERVER,
    service: 'echo',
    appPort: APP_PORT,
    routes: (mesh) => [
      route('plain', PLAIN_CLUSTER, { match: match({ prefix: '/plain' }) }),
      route('disable', DISABLE_CLUSTER, { match: match({ prefix: '/disable' }) }),
      route('mesh', mesh),
    ],
    extraClusters: [plainCluster, disableCluster],
  });
});

test.after.always(async () => {
  await pair?.close();
  await closeHttp(app);
  await closeHttp(plainApp);
});

/** What the app (or an outside caller) sends: internal headers, hop-by-hop and Connection-nominated ones, and one that must survive. */
const FORGED_REQUEST: http.OutgoingHttpHeaders = {
  'x-forwarded-client-cert': 'By=spiffe://evil/ns/x/sa/y;URI=spiffe://cluster.local/ns/default/sa/admin',
  'x-meshfed-peer-metadata': 'Zm9yZ2Vk',
  'x-meshfed-response-flags': 'FORGED',
  'x-envoy-original-path': '/admin',
  'x-envoy-peer-metadata': 'forged',
  'x-kept': 'yes',
};
const HOP_BY_HOP_REQUEST: http.OutgoingHttpHeaders = {
  connection: 'keep-alive, x-nominated',
  'x-nominated': 'secret',
  'keep-alive': 'timeout=5',
  'proxy-connection': 'keep-alive',
  te: 'gzip',
  // Not an upgrade (Connection does not name it): Upgrade is just a hop-by-hop header.
  upgrade: 'websocket',
};
const NEVER_UPSTREAM = ['x-meshfed-response-flags', 'x-envoy-original-path', 'x-envoy-peer-metadata', 'x-nominated', 'keep-alive', 'proxy-connection', 'te', 'upgrade'];
const NEVER_DOWNSTREAM = ['x-meshfed-response-flags', 'x-meshfed-peer-metadata', 'x-envoy-forged', 'x-envoy-upstream-service-time', 'x-resp-nominated', 'proxy-connection'];

/** The XFCC the app may see: only the inbound sidecar's, naming the verified caller. */
const MESH_XFCC = /^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/echo;Hash=[0-9a-f]{64};URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/caller$/;

const PATHS = [
  { name: 'mesh mTLS peer', path: '/', xfcc: MESH_XFCC },
  { name: 'DISABLE peer (plaintext h2c to its sidecar)', path: '/disable', xfcc: undefined },
  { name: 'plaintext upstream outside the mesh', path: '/plain', xfcc: undefined },
] as const;

function assertClean(t: import('ava').ExecutionContext, seen: Record<string, string>, xfcc: RegExp | undefined): void {
  for (const name of NEVER_UPSTREAM) t.is(seen[name], undefined, `upstream saw ${name}`);
  t.is(seen['x-kept'], 'yes', 'end-to-end headers survive');
  t.not(seen['x-meshfed-peer-metadata'], 'Zm9yZ2Vk', 'forged peer metadata never forwarded');
  if (xfcc) t.regex(seen['x-forwarded-client-cert'] ?? '', xfcc);
  else t.is(seen['x-forwarded-client-cert'], undefined, 'no XFCC without a verified peer');
}

for (const row of PATHS) {
  test(`HTTP/1.1 app → ${row.name}: internal, hop-by-hop and nominated headers stripped both ways`, async (t) => {
    const reply = await httpRequest(pair.outbound, { path: row.path, headers: { host: HOST, ...FORGED_REQUEST, ...HOP_BY_HOP_REQUEST } });
    t.is(reply.status, 200);
    assertClean(t, JSON.parse(reply.body) as Record<string, string>, row.xfcc);
    for (const name of NEVER_DOWNSTREAM) t.is(reply.headers[name], undefined, `the app got ${name}`);
    t.is(reply.headers['x-kept-response'], 'yes');
  });

  test(`h2c app → ${row.name}: internal headers stripped both ways`, async (t) => {
    const client = http2.connect(`http://${CLIENT}:${pair.outbound.port}`);
    client.on('error', () => {});
    try {
      const req = client.request({ ':path': row.path, ':authority': HOST, ...FORGED_REQUEST });
      const headers = await new Promise<http2.IncomingHttpHeaders>((r) => req.once('response', r));
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        body += c;
      });
      await new Promise((r) => req.once('end', r));
      t.is(Number(headers[':status']), 200);
      assertClean(t, JSON.parse(body) as Record<string, string>, row.xfcc);
      for (const name of NEVER_DOWNSTREAM) t.is(headers[name], undefined, `the app got ${name}`);
    } finally {
      client.close();
    }
  });
}

test('an outside plaintext caller to the inbound :15006: forged internal headers never reach the app, the app cannot forge them back', async (t) => {
  const client = http2.connect(`http://${SERVER}:15006`);
  client.on('error', () => {});
  try {
    const req = client.request({ ':path': '/', ':authority': HOST, ...FORGED_REQUEST });
    const headers = await new Promise<http2.IncomingHttpHeaders>((r) => req.once('response', r));
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    await new Promise((r) => req.once('end', r));
    t.is(Number(headers[':status']), 200);
    const seen = JSON.parse(body) as Record<string, string>;
    for (const name of ['x-meshfed-response-flags', 'x-envoy-original-path', 'x-envoy-peer-metadata', 'x-meshfed-peer-metadata', 'x-forwarded-client-cert']) t.is(seen[name], undefined, `the app saw ${name}`);
    t.is(seen['x-kept'], 'yes');
    for (const name of ['x-meshfed-response-flags', 'x-envoy-forged', 'x-envoy-upstream-service-time']) t.is(headers[name], undefined, `the caller got ${name}`);
    // The sidecar's own peer metadata, never the app's forgery.
    t.not(headers['x-meshfed-peer-metadata'], 'Zm9yZ2Vk');
  } finally {
    client.close();
  }
});

import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { createDataPlane, StaticCertificateSource } from '../../src/sidecar/index.ts';
import { LISTENER, ROUTE_OUTBOUND } from '../../src/xds/naming.ts';
import { createTestCa } from '../sidecar/support-certs.ts';
import { endpoint, outboundListener, proxyConfig, route } from '../sidecar/support-config.ts';

/**
 * A sidecar data plane in its own process, for heap-pressure tests (issue 8 case 32): run with a
 * small `--max-old-space-size` and `--expose-gc`. argv: <address> <appHost:appPort> <overload
 * options JSON>. Its outbound :15001 routes every request to the app over plaintext HTTP/1.1.
 * The test-only allocation knob is stdin, one command a line: `grow <MB>` retains that much more
 * JS heap, `free` drops it all and collects; each answers `heap <used bytes>` on stdout once
 * the manager has read the new heap. Prints `ready` once serving.
 */
const [address = '', app = '', overloadJson = '{}'] = process.argv.slice(2);
const [appHost = '', appPort = '0'] = app.split(':');
const ca = await createTestCa('east');
const plane = await createDataPlane({
  workload: { name: 'overloaded-v1', namespace: 'default', serviceAccount: 'overloaded', cluster: 'east', address, labels: { app: 'overloaded' } },
  certificates: new StaticCertificateSource(ca.issue('default', 'overloaded')),
  logger: pino({ level: 'silent' }),
  overload: JSON.parse(overloadJson) as Record<string, number>,
});
const cluster = 'outbound|9080||app.example';
const applied = await plane.applyConfig(
  proxyConfig({
    listeners: [outboundListener(address)],
    routes: [{ name: ROUTE_OUTBOUND, virtualHosts: [{ name: 'app', domains: ['*'], routes: [route('default', cluster)] }] }],
    clusters: [{ name: cluster, type: 'STATIC', edsServiceName: cluster, lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 1000, staticEndpoints: [endpoint(appHost, Number(appPort))] }],
  }),
);
if (!applied.ok || plane.listenerAddress(LISTENER.virtualOutbound) === undefined) throw new Error('overload-child: listener not bound');

const retained: number[][] = [];
const gc = (globalThis as { gc?: () => void }).gc;
const report = (): void => {
  const used = process.memoryUsage().heapUsed;
  // Wait out one refresh interval, so the manager has seen this heap before the test sends load.
  setTimeout(() => process.stdout.write(`heap ${used}\n`), 120);
};
createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, arg] = line.trim().split(' ');
  if (cmd === 'grow') {
    // 1 MB of JS heap per array of 131,072 small integers (8 bytes each), never freed until `free`.
    for (let i = 0; i < Number(arg); i++) retained.push(Array.from({ length: 131_072 }, (_, j) => j));
    report();
  } else if (cmd === 'free') {
    retained.length = 0;
    gc?.();
    report();
  }
});
process.stdin.once('end', () => {
  void plane.close().then(() => ca.dispose()).then(() => process.exit(0));
});
process.stdout.write('ready\n');

import { Writable } from 'node:stream';
import test from 'ava';
import { pino } from 'pino';
import { Registry } from '../../src/common/prom.ts';
import { proxylessFindingsReport } from '../../src/pilot/server/proxyless-findings-report.ts';
import { SnapshotBuilder } from './support/snapshot-builder.ts';

/** Pilot reports what proxyless clients cannot honour: a warning when it appears, a gauge, the list. */

const MIRROR = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}], mirror: {host: reviews}}]
`;
const LEAST = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
`;

const snap = (yaml: string, version: string) => new SnapshotBuilder().workload('reviews-v1', 'reviews', 9080).yaml(yaml).build(version);

test('each finding is logged once when it appears, counted by effect, and listed', async (t) => {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as { level: number; msg: string });
      cb();
    },
  });
  const registry = new Registry();
  const report = proxylessFindingsReport(registry, pino({ level: 'info' }, sink));
  report.update(snap(MIRROR, 'v1'));
  report.update(snap(MIRROR, 'v2'));
  report.update(snap(`${MIRROR}---\n${LEAST}`, 'v3'));
  await new Promise((r) => setImmediate(r));
  t.deepEqual(
    lines.map((l) => [l.level, l.msg]),
    [
      [40, 'VirtualService default/reviews spec.http[0].mirror: ignored for proxyless gRPC clients: grpc-js-xds does not mirror calls'],
      [40, 'DestinationRule default/reviews spec.trafficPolicy.loadBalancer.simple: not-sent for proxyless gRPC clients: grpc-js-xds NACKs lb_policy LEAST_REQUEST: proxyless clients get ROUND_ROBIN'],
    ],
  );
  t.is(report.current().length, 2);
  const text = await registry.metrics();
  t.regex(text, /meshfed_pilot_proxyless_findings\{effect="ignored"\} 1/);
  t.regex(text, /meshfed_pilot_proxyless_findings\{effect="not-sent"\} 1/);
  t.regex(text, /meshfed_pilot_proxyless_findings\{effect="nacked"\} 0/);
  report.update(snap(LEAST, 'v4'));
  t.deepEqual(report.current().map((s) => s.split(' ')[0]), ['DestinationRule']);
});

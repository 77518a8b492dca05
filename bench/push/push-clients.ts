/**
 * A child of bench/push/push-bench.ts: `count` real ADS clients (src/xds/ads-client.ts, which
 * validates every resource and ACKs), sidecars of the workloads `w<first>-0` … in namespace
 * `default`, against `target`. Prints `ready` once every client holds a config; exits on SIGTERM
 * or when its parent goes.
 * Usage: node --import tsx bench/push/push-clients.ts <target> <first> <count> [delta|sotw]
 */
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { AdsClient } from '../../src/xds/index.ts';
import { workloadAddress } from './push-mesh.ts';
import { CpuProfiler, PROFILE_ENV } from './push-profile.ts';

const [target = '', firstArg = '0', countArg = '0', api = 'sotw'] = process.argv.slice(2);
if (api !== 'delta' && api !== 'sotw') throw new Error('invalid api: must be delta or sotw');
const first = Number(firstArg);
const count = Number(countArg);
const logger = pino({ level: 'silent' });
const clients: AdsClient[] = [];
for (let i = first; i < first + count; i++) {
  const c = new AdsClient({
    target,
    credentials: grpc.credentials.createInsecure(),
    apiType: api === 'delta' ? 'DELTA_GRPC' : 'GRPC',
    node: {
      type: 'sidecar',
      ip: workloadAddress(i, 0),
      workload: `w${i}-0`,
      namespace: 'default',
      cluster: 'east',
      serviceAccount: `svc${i}`,
      labels: { app: `svc${i}` },
    },
    logger,
  });
  c.start();
  clients.push(c);
}
const timer = setInterval(() => {
  if (clients.every((c) => c.ready())) {
    clearInterval(timer);
    process.stdout.write('ready\n');
  }
}, 50);
const parent = process.ppid;
setInterval(() => {
  try {
    process.kill(parent, 0);
  } catch {
    process.exit(0);
  }
}, 1000).unref();
const profileDir = process.env[PROFILE_ENV];
if (profileDir !== undefined && profileDir !== '') {
  const profiler = new CpuProfiler(profileDir);
  let trial = 0;
  let on = false;
  // Toggled synchronously: the profiler's own state lags behind while start() is under way.
  let last: Promise<unknown> = Promise.resolve();
  process.on('SIGUSR2', () => {
    on = !on;
    const starting = on;
    last = last.then(async () => {
      if (starting) await profiler.start();
      else await profiler.stop(`clients-${first}-trial${trial++}`);
    });
  });
}
process.on('SIGTERM', () => {
  for (const c of clients) c.close();
  process.exit(0);
});

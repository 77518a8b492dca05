/**
 * Max-throughput load generator, a child of run.ts so that autocannon does not share an event loop
 * with anything else. Closed loop: `connections` keep-alive connections, each sending its next
 * request as soon as the previous response arrives, for `durationS` seconds.
 *
 *   node --import tsx bench/load-max.ts '{"url":"http://127.150.200.1:8080/","connections":32,"durationS":10}'
 *
 * Prints one JSON line (MaxResult) on stdout.
 */
import autocannon from 'autocannon';
import { type MaxResult, maxJobSchema, parseJobArg } from './load-protocol.ts';

const job = parseJobArg(maxJobSchema, process.argv[2]);

const cpu0 = process.cpuUsage();
autocannon(
  {
    url: job.url,
    connections: job.connections,
    duration: job.durationS,
    pipelining: 1,
    timeout: 10,
    ...(job.host ? { headers: { host: job.host } } : {}),
  },
  (err, r) => {
    if (err) {
      process.stderr.write(`autocannon: ${err.message}\n`);
      process.exit(1);
    }
    const cpu = process.cpuUsage(cpu0);
    const durationS = r.duration > 0 ? r.duration : job.durationS;
    const out: MaxResult = {
      kind: 'max',
      requests: r.requests.total,
      durationS,
      rps: r.requests.total / durationS,
      status2xx: r['2xx'],
      non2xx: r.non2xx,
      errors: r.errors,
      timeouts: r.timeouts,
      bytes: r.throughput.total,
      latencyMs: { p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max },
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    process.exit(0);
  },
);

/**
 * Optional CPU profiles of a push benchmark run (`--profile DIR`): the benchmark process (Pilot)
 * profiles itself around each trial, and each client process (push-clients.ts) toggles its own
 * profiler on SIGUSR2 (first signal starts, second writes `DIR/<label>-<pid>.cpuprofile`).
 * Summarise with bench/profile/summarize-cpuprofile.ts.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

/** The env variable that carries the profile folder to the client processes. */
export const PROFILE_ENV = 'MESHFED_PUSH_PROFILE_DIR';

type Post = (method: string, params?: object) => Promise<unknown>;

/** A V8 CPU profiler of this process, started and stopped as often as needed. */
export class CpuProfiler {
  private readonly session = new Session();
  private readonly post: Post;
  running = false;

  constructor(private readonly dir: string) {
    this.session.connect();
    this.post = (method, params) =>
      new Promise((resolve, reject) => this.session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  }

  async start(): Promise<void> {
    await this.post('Profiler.enable');
    await this.post('Profiler.setSamplingInterval', { interval: 200 });
    await this.post('Profiler.start');
    this.running = true;
  }

  /** Writes `<dir>/<label>-<pid>.cpuprofile`; returns its path. */
  async stop(label: string): Promise<string> {
    const res = (await this.post('Profiler.stop')) as { profile: unknown };
    this.running = false;
    const file = path.join(this.dir, `${label}-${process.pid}.cpuprofile`);
    writeFileSync(file, JSON.stringify(res.profile));
    return file;
  }
}

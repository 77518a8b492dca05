/**
 * Preloaded into mesh processes by profile-sidecars.ts (NODE_OPTIONS=--import=<this file>), since
 * Node refuses --cpu-prof in NODE_OPTIONS. In a `meshfed sidecar` process it toggles the V8 CPU
 * profiler on SIGUSR2: the first signal starts it, the second writes
 * `$MESHFED_PROFILE_DIR/sidecar-<pid>.cpuprofile`. Other processes are left alone.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env.MESHFED_PROFILE_DIR;
if (dir && process.argv.includes('sidecar')) {
  const session = new Session();
  session.connect();
  let running = false;
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 200 }, () => session.post('Profiler.start')));
      return;
    }
    running = false;
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(path.join(dir, `sidecar-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}

import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { assertBuilt, CLI_ENTRY } from '../package-paths.ts';

export interface ManagedProcess {
  name: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
}

export interface SpawnSpec {
  /** Display name, e.g. `east/reviews-v1/sidecar`; also names the log file. */
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** Run inside this network namespace (`ip netns exec`, which execs: the PID is the real one). */
  netns?: string;
}

/**
 * Owns every process the runner starts. Children log to `<logDir>/<name>.log`. `stopAll` sends
 * SIGTERM to each by PID, waits, then SIGKILLs stragglers; it never kills by name.
 */
export class Supervisor {
  private readonly procs: ManagedProcess[] = [];
  private stopping = false;

  constructor(
    private readonly logDir: string,
    private readonly onUnexpectedExit: (p: ManagedProcess, code: number | null) => void = () => {},
  ) {
    mkdirSync(logDir, { recursive: true });
    // Last resort when the owner exits without stop() (a crash, a test runner's timeout): children
    // that do not watch their parent themselves (Consul) must not outlive it.
    process.once('exit', () => {
      for (const p of this.procs) if (p.child.exitCode === null && p.child.signalCode === null) signal(p.pid, 'SIGKILL');
    });
  }

  /** Starts `meshfed <args>` as compiled JavaScript, by absolute path, on this process's Node. */
  spawnMeshfed(name: string, args: string[], opts: { env?: Record<string, string>; netns?: string } = {}): ManagedProcess {
    assertBuilt();
    return this.spawn({ name, command: process.execPath, args: [CLI_ENTRY, ...args], ...opts });
  }

  /** Starts a child; refused (throws) once `stopAll` began, so a cancelled start-up starts nothing more. */
  spawn(spec: SpawnSpec): ManagedProcess {
    if (this.stopping) throw new Error(`not starting ${spec.name}: stopping`);
    const logFile = path.join(this.logDir, `${spec.name.replaceAll('/', '_')}.log`);
    const log: WriteStream = createWriteStream(logFile, { flags: 'a' });
    const [cmd, args] = spec.netns
      ? ['ip', ['netns', 'exec', spec.netns, spec.command, ...spec.args]]
      : [spec.command, spec.args];
    const child = spawn(cmd as string, args as string[], {
      env: { ...process.env, ...spec.env, MESHFED_PARENT_PID: String(process.pid) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    if (child.pid === undefined) throw new Error(`could not start ${spec.name}`);
    const exited = new Promise<number | null>((resolve) => {
      child.on('exit', (code) => {
        log.end();
        resolve(code);
        if (!this.stopping) this.onUnexpectedExit(proc, code);
      });
      child.on('error', () => resolve(null));
    });
    const proc: ManagedProcess = { name: spec.name, pid: child.pid, child, logFile, exited };
    this.procs.push(proc);
    return proc;
  }

  list(): readonly ManagedProcess[] {
    return this.procs;
  }

  /** Stops children in reverse start order (apps and sidecars first, control planes last). */
  async stopAll(graceMs = 5000): Promise<void> {
    this.stopping = true;
    const alive = this.procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null).reverse();
    for (const p of alive) signal(p.pid, 'SIGTERM');
    await Promise.race([
      Promise.all(alive.map((p) => p.exited)),
      new Promise((r) => setTimeout(r, graceMs).unref()),
    ]);
    for (const p of alive) if (p.child.exitCode === null && p.child.signalCode === null) signal(p.pid, 'SIGKILL');
    await Promise.all(alive.map((p) => p.exited));
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

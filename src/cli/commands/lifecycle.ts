import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';

/**
 * Keeps a component process running until SIGTERM or SIGINT, then closes it (bounded by
 * `graceMs`) and exits. An error escaping a peer's callback is logged, never fatal.
 */
export function runUntilSignal(name: string, log: Logger, close: () => Promise<void>, graceMs = 4000): void {
  let closing = false;
  const stop = (signal: string): void => {
    if (closing) return;
    closing = true;
    log.info({ signal }, `${name} stopping`);
    const force = setTimeout(() => process.exit(0), graceMs);
    force.unref();
    close().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ err: errorMessage(e) }, `${name} close failed`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('uncaughtException', (e) => log.error({ err: errorMessage(e), stack: e.stack }, 'uncaught exception'));
  process.on('unhandledRejection', (e) => log.error({ err: errorMessage(e) }, 'unhandled rejection'));
}

/** Prints `message` on stderr and exits non-zero: the ending of every failed command. */
export function exitWith(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

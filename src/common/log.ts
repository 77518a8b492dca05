import { destination, pino, type Logger } from 'pino';

export type { Logger };

/**
 * Creates a component logger. Level comes from MESHFED_LOG_LEVEL (default `info`); output is JSON
 * lines on stderr so that stdout stays free for a command's own output.
 */
export function createLogger(component: string, bindings: Record<string, string> = {}): Logger {
  const level = process.env['MESHFED_LOG_LEVEL'] ?? 'info';
  return pino({ level, base: { component, ...bindings } }, destination(2));
}

import { readFileSync } from 'node:fs';
import { Option } from 'commander';
import { DEFAULT_KEY_ALGORITHM, isKeyAlgorithm, KEY_ALGORITHMS, type KeyAlgorithm } from '../../citadel/key-algorithm.ts';
import { errorMessage } from '../../common/errors.ts';
import { exitWith } from './lifecycle.ts';

/** Parses `host:port`; the error names the flag. */
export function hostPort(flag: string, value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const port = Number(value.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) exitWith(`invalid ${flag}: expected host:port, got "${value}"`);
  return { host: value.slice(0, i), port };
}

export function readText(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e: unknown) {
    return exitWith(`invalid ${flag}: ${errorMessage(e)}`);
  }
}


/** `--key-algorithm`, one of Citadel's key algorithms (default ECDSA P-256). */
export function keyAlgorithmOption(what: string): Option {
  return new Option('--key-algorithm <alg>', `algorithm of ${what}`).choices([...KEY_ALGORITHMS]).default(DEFAULT_KEY_ALGORITHM);
}

/** The parsed `--key-algorithm` value (commander has checked the choice). */
export function keyAlgorithmOf(v: unknown): KeyAlgorithm {
  return typeof v === 'string' && isKeyAlgorithm(v) ? v : DEFAULT_KEY_ALGORITHM;
}

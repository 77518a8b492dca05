import { readFileSync } from 'node:fs';
import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { exitWith } from './lifecycle.ts';
import { readText } from './options.ts';

/**
 * `--token-file` of `meshfed sidecar`: read now (a missing or empty file ends the command), then
 * again at every CSR through the returned function, so a projected service-account token that the
 * kubelet rotates in place is always sent fresh. A later read that fails, or finds the file empty,
 * keeps the last token read and logs why (Citadel then says whether it still holds).
 */
export function tokenFromFile(file: string, log: Pick<Logger, 'warn'>): () => string {
  let last = readText('--token-file', file);
  if (last === '') return exitWith(`invalid --token-file: ${file} is empty`);
  return () => {
    try {
      const now = readFileSync(file, 'utf8').trim();
      if (now !== '') last = now;
      else log.warn({ file }, '--token-file is empty now; sending the last token read');
    } catch (e: unknown) {
      log.warn({ file, err: errorMessage(e) }, 'cannot re-read --token-file; sending the last token read');
    }
    return last;
  };
}


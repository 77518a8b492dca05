import path from 'node:path';
import { watchFileContents } from '../common/file-content-watch.ts';
import type { FolderWatch } from '../common/folder-watch.ts';
import type { Logger } from '../common/log.ts';
import { CA_FILES, type CaMaterial, caMaterialFromPem } from './ca-files.ts';

/**
 * Follows a plug-in CA folder, which a root rotation edits in place (ca-rotation.ts): each time
 * the four files differ from what was delivered last, `onChange` gets the new material and whether
 * the signing intermediate changed (a serving certificate from the old one should then be
 * reissued). Inconsistent files (a phase half written) are logged by the watch and the material in
 * use is kept until the next change. Used by the control plane, a standalone Citadel and a
 * standalone Mixer.
 */
export function watchCaFolder(
  caDir: string,
  initial: CaMaterial,
  logger: Logger,
  onChange: (next: CaMaterial, intermediateChanged: boolean) => void,
): FolderWatch {
  let current = initial;
  return watchFileContents(
    [CA_FILES.cert, CA_FILES.key, CA_FILES.chain, CA_FILES.root].map((f) => path.join(caDir, f)),
    logger,
    { what: 'CA folder' },
    ([certPem = '', keyPem = '', chainPem = '', rootPem = '']) => {
      const next = caMaterialFromPem({ certPem, keyPem, chainPem, rootPem });
      const intermediateChanged = !next.cert.raw.equals(current.cert.raw);
      onChange(next, intermediateChanged);
      current = next;
      logger.info(
        { roots: next.roots.map((r) => r.fingerprint256), signingRoot: next.root.fingerprint256, intermediateChanged },
        'CA folder reloaded',
      );
    },
  );
}

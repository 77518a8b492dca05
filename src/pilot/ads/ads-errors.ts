import { MeshfedError } from '../../common/errors.ts';

/** Invalid AdsServer constructor options (a programmer error: thrown). */
export class AdsOptionsError extends MeshfedError {
  constructor(message: string) {
    super('ADS_OPTIONS_INVALID', message);
  }
}

import { MeshfedError } from '../common/errors.ts';

/** Base of Mixer's errors. Codes: `MIXER_OPTIONS_INVALID`, `MIXER_LISTEN_FAILED`. */
export class MixerError extends MeshfedError {}

/** startMixer options failed validation; the message names the field. */
export class MixerOptionsError extends MixerError {
  constructor(message: string) {
    super('MIXER_OPTIONS_INVALID', message);
  }
}

/** The gRPC or metrics port could not be bound. */
export class MixerListenError extends MixerError {
  constructor(what: string, cause: unknown) {
    super('MIXER_LISTEN_FAILED', `cannot listen for ${what}`, { cause });
  }
}

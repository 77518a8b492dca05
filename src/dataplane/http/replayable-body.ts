import { PassThrough, type Readable } from 'node:stream';

/**
 * A request body that can be sent more than once (retries, mirrors), as Envoy buffers it: the
 * first reader gets the live stream, and every chunk is kept, up to `limitBytes`, so later readers
 * get the chunks seen so far followed by the rest as it arrives. Once the body outgrows the limit
 * it is no longer replayable (`replayable` turns false) and no more readers can be made.
 */
export class ReplayableBody {
  readonly #chunks: Buffer[] = [];
  readonly #readers = new Set<PassThrough>();
  #bytes = 0;
  #ended = false;
  #overflow = false;
  #failed: Error | undefined;

  constructor(
    source: Readable,
    private readonly limitBytes: number,
  ) {
    source.on('data', (chunk: Buffer) => {
      if (!this.#overflow) {
        this.#bytes += chunk.length;
        if (this.#bytes > this.limitBytes) {
          this.#overflow = true;
          this.#chunks.length = 0;
        } else this.#chunks.push(chunk);
      }
      // Flow control, as Envoy's buffer limits do: a reader that cannot keep up pauses the
      // source until it drains, so a slow upstream never makes the proxy buffer a whole upload.
      for (const r of this.#readers) {
        if (!r.write(chunk)) {
          source.pause();
          r.once('drain', () => source.resume());
        }
      }
    });
    source.once('end', () => {
      this.#ended = true;
      for (const r of this.#readers) r.end();
    });
    source.once('error', (e: Error) => {
      this.#failed = e;
      for (const r of this.#readers) r.destroy(e);
    });
  }

  /** True while a new reader would see the whole body. */
  get replayable(): boolean {
    return !this.#overflow && this.#failed === undefined;
  }

  /** A new stream of the whole body; undefined once it is not replayable. */
  reader(): Readable | undefined {
    if (!this.replayable) return undefined;
    const r = new PassThrough();
    for (const c of this.#chunks) r.write(c);
    if (this.#ended) r.end();
    else {
      this.#readers.add(r);
      r.once('close', () => this.#readers.delete(r));
    }
    return r;
  }
}

/**
 * hsmd wire framing over a Node stream: each message is a u32 big-endian length followed
 * by that many bytes of body (2-byte type + fields). docs/hsmd-protocol.md#framing; CLN wire/wire_io.c.
 *
 * `FrameReader` hands out one frame per `read()` so a connection can answer strictly one
 * request at a time (hsmd.c reads the next request only after the reply is written). It
 * pauses the stream while a whole frame waits unread, so a client that floods us is held
 * back by the socket buffer, as ccan/io does for CLN.
 */
import type { Readable } from 'node:stream';

/** CLN wire/wire_io.h: a length at or above this is refused (wire_io.c: E2BIG, conn closed). */
export const WIRE_LEN_LIMIT = 1 << 27;

const HEADER_LEN = 4;

/** The stream broke the framing: it cannot be read any further. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/** The 4-byte length prefix followed by `body`, ready to write. */
export function frame(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LEN + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, HEADER_LEN);
  return out;
}

/** Incremental parser of frames arriving on a readable stream. */
export class FrameReader {
  /** Received bytes not yet handed out; the first chunk is consumed from `offset`. */
  private readonly chunks: Buffer[] = [];
  private offset = 0;
  private buffered = 0;
  private ended = false;
  private failure: Error | null = null;
  private waiter: { resolve: (f: Uint8Array | null) => void; reject: (e: Error) => void } | null = null;

  constructor(
    private readonly stream: Readable,
    private readonly limit: number = WIRE_LEN_LIMIT,
  ) {
    stream.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.waiter) this.settle();
      else if (this.frameReady()) stream.pause();
    });
    stream.on('end', () => this.finish(null));
    stream.on('close', () => this.finish(null));
    stream.on('error', (err: Error) => this.finish(err));
  }

  /**
   * The next frame's body, or null at a clean end of stream. Rejects with FrameError on
   * an oversized length or a stream that ends inside a frame, or with the stream's error.
   * The body may be a view into a larger read buffer: copy it to keep it for long.
   */
  read(): Promise<Uint8Array | null> {
    if (this.waiter) return Promise.reject(new Error('FrameReader.read() called while a read is pending'));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.settle();
      if (this.waiter) this.stream.resume();
    });
  }

  private finish(err: Error | null): void {
    if (err && !this.failure) this.failure = err;
    this.ended = true;
    if (this.waiter) this.settle();
  }

  /** Resolves or rejects the pending read if the buffered bytes (or the end) allow it. */
  private settle(): void {
    const waiter = this.waiter;
    if (!waiter) return;
    let result: Uint8Array | null;
    try {
      result = this.take();
    } catch (err) {
      this.waiter = null;
      waiter.reject(err as Error);
      return;
    }
    if (result !== null) {
      this.waiter = null;
      waiter.resolve(result);
    } else if (this.failure) {
      this.waiter = null;
      waiter.reject(this.failure);
    } else if (this.ended) {
      this.waiter = null;
      if (this.buffered === 0) waiter.resolve(null);
      else waiter.reject(new FrameError(`connection closed inside a frame (${this.buffered} bytes unread)`));
    }
  }

  /** The body length announced by the buffered header, or -1 if it has not arrived. */
  private announcedLength(): number {
    if (this.buffered < HEADER_LEN) return -1;
    const first = this.chunks[0]!;
    if (first.length - this.offset >= HEADER_LEN) return first.readUInt32BE(this.offset);
    return this.copyOut(HEADER_LEN, false).readUInt32BE(0);
  }

  private frameReady(): boolean {
    const len = this.announcedLength();
    return len >= 0 && (len >= this.limit || this.buffered >= HEADER_LEN + len);
  }

  /** Removes and returns the next whole frame body, or null if it is not all here yet. */
  private take(): Uint8Array | null {
    const len = this.announcedLength();
    if (len < 0) return null;
    if (len >= this.limit) {
      throw new FrameError(`frame length ${len} is at or above WIRE_LEN_LIMIT (${this.limit} bytes)`);
    }
    if (this.buffered < HEADER_LEN + len) return null;
    this.skip(HEADER_LEN);
    const first = this.chunks[0];
    if (first && first.length - this.offset >= len) {
      // Zero-copy: the whole body lies inside one received chunk.
      const body = plain(first.subarray(this.offset, this.offset + len));
      this.skip(len);
      return body;
    }
    return plain(this.copyOut(len, true));
  }

  /** Drops n buffered bytes (n never exceeds what is buffered). */
  private skip(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const first = this.chunks[0]!;
      const avail = first.length - this.offset;
      if (n < avail) {
        this.offset += n;
        return;
      }
      n -= avail;
      this.chunks.shift();
      this.offset = 0;
    }
  }

  /** Copies the next n buffered bytes into one buffer, consuming them if `consume`. */
  private copyOut(n: number, consume: boolean): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let offset = this.offset;
    for (const chunk of this.chunks) {
      if (filled === n) break;
      const part = Math.min(chunk.length - offset, n - filled);
      chunk.copy(out, filled, offset, offset + part);
      filled += part;
      offset = 0;
    }
    if (consume) this.skip(n);
    return out;
  }
}

/**
 * The same bytes as a plain Uint8Array. Frames go to the signer, whose contract is
 * Uint8Array: a Buffer there would be a trap, since Buffer#slice returns a view where
 * Uint8Array#slice copies, and the socket reuses its buffers.
 */
const plain = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

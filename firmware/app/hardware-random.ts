/**
 * The RNG port from a platform's "fill n bytes" primitive (the ESP32's hardware RNG through
 * firmware/moddable/hardware-random.c). Platform-neutral so its checks are tested on Node.
 */
import type { RandomBytes } from '../../signer/crypto/random.js';

/** What the native module gives: an ArrayBuffer of `length` bytes. */
export type FillRandom = (length: number) => ArrayBuffer;

export function randomBytesFrom(fill: FillRandom): RandomBytes {
  return (length) => {
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`random byte count must be a whole number, got ${length}`);
    const bytes = new Uint8Array(fill(length));
    if (bytes.length !== length) throw new Error(`the hardware RNG gave ${bytes.length} bytes, ${length} were asked for`);
    return bytes;
  };
}

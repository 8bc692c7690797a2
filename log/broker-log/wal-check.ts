/**
 * Checks LevelDB's write-ahead logs (`*.log` in the broker log's directory) before LevelDB
 * opens them (docs/broker-log.md "Integrity"). LevelDB's recovery, with paranoid checks off
 * (classic-level has no option for them), drops the rest of a 32 KiB block whose checksum
 * fails, goes on, writes what it kept to a table and deletes the log: records vanish without
 * an error. Read first, a damaged block is refused with nothing changed.
 *
 * Format (LevelDB's doc/log_format.md): 32 KiB blocks of physical records, each
 * `u32 masked CRC-32C(type ‖ data) ‖ u16 length ‖ u8 type ‖ data` (little-endian); fewer than
 * 7 bytes left in a block are zero padding; type 0 with length 0 is preallocated space.
 * A record cut off by the end of the file is a torn last write (LevelDB ignores it, rightly),
 * unless a whole record follows it (its length was raised by a flipped bit); a whole record
 * whose checksum fails is damage.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '../journal/crc32c.js';

const BLOCK = 32768;
const HEADER = 7;
const MASK_DELTA = 0xa282ead8;

/** LevelDB's masked CRC (util/crc32c.h Mask). */
const masked = (crc: number): number => ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;

/** The last 8-byte key a WriteBatch puts (`u64 sequence ‖ u32 count ‖ (u8 tag ‖ varint key length ‖ key ‖ [varint value length ‖ value])*`). */
function lastKeyOfBatch(batch: Uint8Array): bigint | undefined {
  let at = 12;
  let last: bigint | undefined;
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; at < batch.length && shift < 35; shift += 7) {
      const b = batch[at++]!;
      v |= (b & 0x7f) << shift;
      if (b < 0x80) return v >>> 0;
    }
    return batch.length; // runs off the end: stops the loop below
  };
  while (at < batch.length) {
    const tag = batch[at++]!;
    const keyLength = varint();
    if (keyLength === 8 && at + 8 <= batch.length) last = new DataView(batch.buffer, batch.byteOffset + at, 8).getBigUint64(0);
    at += keyLength;
    if (tag === 1) at += varint();
  }
  return last;
}

/** The offset of the first physical record from `from` on whose checksum holds (the rest of one block at most, after a torn write). */
function wholeRecordAfter(bytes: Uint8Array, from: number): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = from; at + HEADER <= bytes.length; at++) {
    const length = view.getUint16(at + 4, true);
    const type = bytes[at + 6]!;
    if (type < 1 || type > 4 || length === 0 || at + HEADER + length > bytes.length || HEADER + length > BLOCK - (at % BLOCK)) continue;
    if (masked(crc32c(bytes.subarray(at + 6, at + HEADER + length))) === view.getUint32(at, true)) return at;
  }
  return undefined;
}

/**
 * The first damaged record of a write-ahead log, with the last broker-log key written before
 * it, or undefined when it reads clean (a torn tail allowed).
 */
export function walDamage(bytes: Uint8Array): { offset: number; detail: string; afterSeq: bigint | undefined } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  let afterSeq: bigint | undefined;
  let fragments: Uint8Array[] = [];
  while (at < bytes.length) {
    const left = BLOCK - (at % BLOCK);
    if (left < HEADER) {
      at += left; // trailer padding
      continue;
    }
    if (at + HEADER > bytes.length) return undefined; // a torn header at the end
    const length = view.getUint16(at + 4, true);
    const type = bytes[at + 6]!;
    if (type === 0 && length === 0) {
      at += HEADER;
      continue;
    }
    const end = at + HEADER + length;
    if (HEADER + length > left) return { offset: at, detail: `a record of ${length} bytes runs past its 32 KiB block`, afterSeq };
    if (end > bytes.length) {
      // A torn last write, unless whole records follow (a flipped length hides them).
      const next = wholeRecordAfter(bytes, at + 1);
      return next === undefined ? undefined : { offset: at, detail: `a record announcing ${length} bytes runs past the end of the file, but a whole record follows at byte ${next}`, afterSeq };
    }
    const crc = masked(crc32c(bytes.subarray(at + 6, end)));
    if (crc !== view.getUint32(at, true)) return { offset: at, detail: `checksum mismatch in a record of ${length} bytes (type ${type})`, afterSeq };
    // Types: 1 a whole batch, 2 its first fragment, 3 a middle one, 4 its last.
    fragments = type === 1 || type === 2 ? [bytes.subarray(at + HEADER, end)] : [...fragments, bytes.subarray(at + HEADER, end)];
    if (type === 1 || type === 4) {
      afterSeq = lastKeyOfBatch(fragments.length === 1 ? fragments[0]! : Uint8Array.from(fragments.flatMap((f) => [...f]))) ?? afterSeq;
      fragments = [];
    }
    at = end;
  }
  return undefined;
}

/** The first damaged write-ahead log in `dir`, named with its byte offset; undefined if all read clean. */
export function checkWriteAheadLogs(dir: string): { where: string; detail: string } | undefined {
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => /^\d+\.log$/.test(f)).sort();
  } catch {
    return undefined; // no directory yet: LevelDB creates it
  }
  for (const name of names) {
    const damage = walDamage(new Uint8Array(readFileSync(join(dir, name))));
    if (damage) {
      const after = damage.afterSeq === undefined ? 'before any record it holds' : `after seq ${damage.afterSeq}`;
      return { where: `${after} (write-ahead log ${name}, byte ${damage.offset})`, detail: `${damage.detail}; LevelDB would drop the rest of that block and go on` };
    }
  }
  return undefined;
}

/**
 * What LevelDB's info log (`LOG`, begun anew at each open) says it dropped while opening:
 * after the check above this should never be anything, so it is damage of another kind
 * (a torn record LevelDB did not accept, a damaged MANIFEST it worked around).
 */
export function droppedAtOpen(dir: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, 'LOG'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n').filter((l) => /dropping \d+ bytes|Corruption/.test(l)).map((l) => l.replace(/^\S+ \S+ /, ''));
  return lines.length ? `LevelDB reported while opening: ${lines.slice(0, 3).join('; ')}` : undefined;
}

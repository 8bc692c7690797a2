/**
 * The BOLT 11 signing hash: SHA256 of the human-readable part followed by the 5-bit data
 * words packed big-endian into bytes, zero-padded to a byte boundary.
 *
 * This follows common/hash_u5.c step for step (a u64 bit buffer flushed 32 bits at a
 * time) so that even out-of-range "5-bit" bytes hash exactly as CLN's hsmd hashes them.
 */
import { sha256 } from '../crypto/hashes.js';

const U64 = (1n << 64n) - 1n;

export function hashU5(hrp: Uint8Array, words: Uint8Array): Uint8Array {
  const out: number[] = [...hrp];
  let buf = 0n;
  let numBits = 0;
  for (const word of words) {
    buf = ((buf << 5n) | BigInt(word)) & U64; // hash_u5: buf <<= 5; buf |= *u5
    numBits += 5;
    if (numBits >= 32) {
      pushBe32(out, Number((buf >> BigInt(numBits - 32)) & 0xffffffffn));
      numBits -= 32;
    }
  }
  if (numBits > 0) {
    // hash_u5_done: BOLT 11 "0 bits appended to pad the data to the next byte boundary".
    const last: number[] = [];
    pushBe32(last, Number((buf << BigInt(32 - numBits)) & 0xffffffffn));
    out.push(...last.slice(0, Math.ceil(numBits / 8)));
  }
  return sha256(Uint8Array.from(out));
}

function pushBe32(out: number[], v: number): void {
  out.push(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

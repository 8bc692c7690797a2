/**
 * Byte helpers shared by the signer. Uint8Array only (no Buffer): this code also runs
 * under XS on the device.
 */
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';

export { concatBytes as concat };

/** Lower-case hex of bytes. */
export const toHex = (b: Uint8Array): string => bytesToHex(b);

/** Bytes of a hex string (an optional 0x prefix and upper case are accepted). */
export function fromHex(hex: string): Uint8Array {
  const h = hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex;
  return hexToBytes(h.toLowerCase());
}

/** Constant-length comparison: true if a and b hold the same bytes. */
export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * UTF-8 bytes of a string (a lone surrogate becomes U+FFFD, as TextEncoder does). Written out
 * rather than TextEncoder: modules call it at load, before a device has installed any text
 * globals (docs/device-memory.md).
 */
export function utf8(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else c = 0xfffd;
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

// The writers below store bytes one by one, not through a DataView: a DataView over a small
// typed array moves it out of V8's heap (~1–2 µs; docs/performance-history.md, 2026-12-06
// 03:10–04:45). A Uint8Array element keeps the low 8 bits of the number stored.

/** Writes the u32 `v` big-endian at `at` of `b`. */
export function putU32be(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}

/** Writes the u32 `v` little-endian at `at` of `b`. */
export function putU32le(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

/** u32 little-endian (CLN's HKDF salts, docs/hsmd-protocol.md#byte-order). */
export function u32le(n: number): Uint8Array {
  return Uint8Array.of(n, n >>> 8, n >>> 16, n >>> 24);
}

/** u32 big-endian (BIP32's child index). */
export function u32be(n: number): Uint8Array {
  return Uint8Array.of(n >>> 24, n >>> 16, n >>> 8, n);
}

/** The u32 little-endian at `at` of `b` (a PSBT's sighash type, a transaction's fields). */
export const u32leAt = (b: Uint8Array, at = 0): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/** u64 big-endian (BOLT and wire order). */
export function u64be(n: bigint): Uint8Array {
  const hi = Number((n >> 32n) & 0xffffffffn);
  const lo = Number(n & 0xffffffffn);
  return Uint8Array.of(hi >>> 24, hi >>> 16, hi >>> 8, hi, lo >>> 24, lo >>> 16, lo >>> 8, lo);
}

/** u64 little-endian (CLN's channel-seed salt carries the dbid this way, docs/hsmd-protocol.md#byte-order). */
export function u64le(n: bigint): Uint8Array {
  return u64be(n).reverse();
}

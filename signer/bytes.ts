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

/** UTF-8 bytes of a string. */
export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** u32 little-endian (CLN's HKDF salts, §A.12). */
export function u32le(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, true);
  return out;
}

/** u64 little-endian (CLN's channel-seed salt carries the dbid this way, §A.12). */
export function u64le(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n, true);
  return out;
}

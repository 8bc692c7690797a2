/**
 * Block headers (docs/chain.md): the 80-byte serialization, its hash, the compact target
 * (nBits) and the work a header proves. Pure; runs on the device.
 *
 * Layout (little-endian): u32 version ‖ 32 prev hash ‖ 32 merkle root ‖ u32 time ‖ u32 bits
 * ‖ u32 nonce. Hashes are kept in internal byte order (the reverse of the hex bitcoind
 * prints), as txids are elsewhere in the signer.
 */
import { sha256d } from '../crypto/signatures.js';

export const HEADER_BYTES = 80;

export interface BlockHeader {
  readonly version: number;
  readonly prevHash: Uint8Array;
  readonly merkleRoot: Uint8Array;
  readonly time: number;
  readonly bits: number;
  readonly nonce: number;
  /** SHA256d of the 80 bytes, internal order. */
  readonly hash: Uint8Array;
}

/** Parses exactly 80 bytes; throws RangeError naming the length otherwise. */
export function parseHeader(raw: Uint8Array): BlockHeader {
  if (raw.length !== HEADER_BYTES) throw new RangeError(`a block header is ${HEADER_BYTES} bytes, got ${raw.length}`);
  const v = new DataView(raw.buffer, raw.byteOffset, HEADER_BYTES);
  return {
    version: v.getUint32(0, true),
    prevHash: raw.slice(4, 36),
    merkleRoot: raw.slice(36, 68),
    time: v.getUint32(68, true),
    bits: v.getUint32(72, true),
    nonce: v.getUint32(76, true),
    hash: sha256d(raw),
  };
}

/** A 32-byte internal-order hash as a number (it is little-endian). */
export function hashToBigInt(hash: Uint8Array): bigint {
  let n = 0n;
  for (let i = hash.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(hash[i]!);
  return n;
}

/**
 * The target nBits encodes (arith_uint256::SetCompact), or undefined for an encoding
 * Bitcoin Core calls negative or overflowing (never a valid target).
 */
export function bitsToTarget(bits: number): bigint | undefined {
  const exponent = bits >>> 24;
  const mantissa = bits & 0x007fffff;
  if (mantissa !== 0 && (bits & 0x00800000) !== 0) return undefined; // negative
  if (mantissa !== 0 && (exponent > 34 || (mantissa > 0xff && exponent > 33) || (mantissa > 0xffff && exponent > 32))) return undefined;
  return exponent <= 3 ? BigInt(mantissa >>> (8 * (3 - exponent))) : BigInt(mantissa) << BigInt(8 * (exponent - 3));
}

/** arith_uint256::GetCompact: the nBits encoding of a target. */
export function targetToBits(target: bigint): number {
  let size = 0;
  for (let t = target; t > 0n; t >>= 8n) size++;
  let compact = size <= 3 ? Number(target << BigInt(8 * (3 - size))) : Number(target >> BigInt(8 * (size - 3)));
  if (compact & 0x00800000) {
    compact >>>= 8;
    size++;
  }
  return ((compact | (size << 24)) >>> 0);
}

/** The expected number of hashes for a target (GetBlockProof): 2^256 / (target + 1). */
export const workOf = (target: bigint): bigint => (1n << 256n) / (target + 1n);

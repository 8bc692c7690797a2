/**
 * BOLT 3 per-commitment secrets (ccan/crypto/shachain, built by CLN with SHACHAIN_BITS=48):
 * generation from a seed, and the compact store a receiver keeps (at most 49 entries).
 * Indices are u64 bigints; commitment number n uses index 2^48 - 1 - n.
 */
import { sha256 } from '@noble/hashes/sha2.js';

/** SHACHAIN_BITS in CLN's Makefile. */
export const SHACHAIN_BITS = 48;
const MAX_INDEX = (1n << BigInt(SHACHAIN_BITS)) - 1n;

/** shachain_index: the shachain index of commitment number n (hsmd.md §A.11). */
export function shachainIndex(commitmentNumber: bigint): bigint {
  if (commitmentNumber < 0n || commitmentNumber > MAX_INDEX) throw new RangeError('commitment number out of range');
  return MAX_INDEX - commitmentNumber;
}

/** count_trailing_zeroes, with SHACHAIN_BITS for 0. */
function trailingZeros(index: bigint): number {
  if (index === 0n) return SHACHAIN_BITS;
  let i = 0;
  while (((index >> BigInt(i)) & 1n) === 0n) i++;
  return i;
}

/** can_derive: `to` only adds bits below `from`'s lowest set bit (anything from index 0). */
function canDerive(from: bigint, to: bigint): boolean {
  if (from === 0n) return true;
  const mask = ~((1n << BigInt(trailingZeros(from))) - 1n);
  return ((from ^ to) & mask) === 0n;
}

/** derive: for each bit set in to^from, high to low, flip that bit of the hash and SHA256 it. */
function derive(from: bigint, to: bigint, fromHash: Uint8Array): Uint8Array {
  const branches = from ^ to;
  let hash = fromHash.slice();
  for (let i = SHACHAIN_BITS - 1; i >= 0; i--) {
    if (((branches >> BigInt(i)) & 1n) === 0n) continue;
    hash[i >> 3]! ^= 1 << (i & 7); // BOLT 3: flip bit i (byte i/8, bit i%8)
    hash = sha256(hash);
  }
  return hash;
}

/** BOLT 3 generate_from_seed(seed, I) = shachain_from_seed. */
export function shachainFromSeed(seed: Uint8Array, index: bigint): Uint8Array {
  if (seed.length !== 32) throw new RangeError('shachain seed must be 32 bytes');
  if (index < 0n || index > MAX_INDEX) throw new RangeError('shachain index out of range');
  return derive(0n, index, seed);
}

/**
 * The receiver's store (struct shachain): secrets must arrive in order 2^48-1, 2^48-2, …;
 * each insert checks that it derives every stored secret it should (BOLT 3 insert_secret).
 */
export class ShachainStore {
  private readonly known: { index: bigint; secret: Uint8Array }[] = [];
  private minIndex = MAX_INDEX + 1n;

  /** shachain_next_index: the only index `insert` accepts next. */
  get nextIndex(): bigint {
    return this.minIndex - 1n;
  }

  /**
   * shachain_add_hash: false if `secret` fails to derive an earlier one (BOLT 3: the secret
   * is wrong; the store is unchanged). Throws if `index` is not `nextIndex` (CLN asserts).
   */
  insert(index: bigint, secret: Uint8Array): boolean {
    if (index !== this.nextIndex) throw new RangeError(`shachain insert out of order: ${index}, expected ${this.nextIndex}`);
    if (secret.length !== 32) throw new RangeError('shachain secret must be 32 bytes');
    const pos = trailingZeros(index);
    for (let i = 0; i < pos && i < this.known.length; i++) {
      const k = this.known[i];
      if (k === undefined) continue;
      const expect = derive(index, k.index, secret);
      if (!expect.every((b, j) => b === k.secret[j])) return false;
    }
    this.known[pos] = { index, secret: secret.slice() };
    this.minIndex = index;
    return true;
  }

  /** shachain_get_hash: the secret at `index` if derivable from what is stored. */
  get(index: bigint): Uint8Array | undefined {
    for (const k of this.known) {
      if (k !== undefined && canDerive(k.index, index)) return derive(k.index, index, k.secret);
    }
    return undefined;
  }
}

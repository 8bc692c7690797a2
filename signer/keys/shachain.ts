/**
 * BOLT 3 per-commitment secrets (ccan/crypto/shachain, built by CLN with SHACHAIN_BITS=48):
 * generation from a seed, and the compact store a receiver keeps of the counterparty's
 * secrets ("Efficient Per-commitment Secret Storage"), as immutable data that can live in
 * SignerState. Indices are u64 bigints; commitment number n uses index 2^48 - 1 - n.
 *
 * A secret at index I derives every secret whose index only adds bits below I's lowest set
 * bit, so at most 49 secrets (one per position = trailing zeros of I) hold them all.
 *
 * Unlike CLN's shachain_add_hash, an empty chain accepts its first secret at any index:
 * a signer whose state begins after the channel did (lightningd restarted on an old
 * database) stores what it sees from then on; older secrets stay unknown.
 */
import { sha256 } from '../crypto/hashes.js';
import { equal } from '../bytes.js';

/** SHACHAIN_BITS in CLN's Makefile. */
export const SHACHAIN_BITS = 48;
const MAX_INDEX = (1n << BigInt(SHACHAIN_BITS)) - 1n;

/** shachain_index: the shachain index of commitment number n (docs/hsmd-protocol.md#key-derivation). */
export function shachainIndex(commitmentNumber: bigint): bigint {
  if (commitmentNumber < 0n || commitmentNumber > MAX_INDEX) throw new RangeError('commitment number out of range');
  return MAX_INDEX - commitmentNumber;
}

/** BOLT 3 `where` (count_trailing_zeroes): the position of an index, SHACHAIN_BITS for 0. */
function position(index: bigint): number {
  if (index === 0n) return SHACHAIN_BITS;
  let i = 0;
  while (((index >> BigInt(i)) & 1n) === 0n) i++;
  return i;
}

/** can_derive: `to` only adds bits below `from`'s lowest set bit (anything from index 0). */
function canDerive(from: bigint, to: bigint): boolean {
  if (from === 0n) return true;
  const mask = ~((1n << BigInt(position(from))) - 1n);
  return ((from ^ to) & mask) === 0n;
}

/** derive: for each bit set in to^from, high to low, flip that bit of the hash and SHA256 it. */
function derive(from: bigint, to: bigint, fromHash: Uint8Array): Uint8Array {
  // Below 2^48, so exact as a number: its bits are tested on two 24-bit halves, not with a
  // BigInt shift per bit (most of this function's time before).
  const branches = Number(from ^ to);
  const halves = [branches % 2 ** 24, Math.floor(branches / 2 ** 24)] as const;
  let hash: Uint8Array = Uint8Array.from(fromHash);
  for (let i = SHACHAIN_BITS - 1; i >= 0; i--) {
    if (((halves[i >= 24 ? 1 : 0] >> i % 24) & 1) === 0) continue;
    hash[i >> 3]! ^= 1 << (i & 7); // BOLT 3: flip bit i (byte i/8, bit i%8)
    hash = sha256(hash);
  }
  return hash;
}

/** BOLT 3 generate_from_seed(seed, I) = shachain_from_seed. */
export function shachainFromSeed(seed: Uint8Array, index: bigint): Uint8Array {
  checkSeedIndex(seed, index);
  return derive(0n, index, seed);
}

function checkSeedIndex(seed: Uint8Array, index: bigint): void {
  if (seed.length !== 32) throw new RangeError('shachain seed must be 32 bytes');
  if (index < 0n || index > MAX_INDEX) throw new RangeError('shachain index out of range');
}

/** The low bits of an index that SeedChain derives anew each time. */
const LOW_BITS = 8n;

/**
 * shachainFromSeed for one seed at many indices: the hashes of an index's high 40 bits are
 * made once and kept for the next index with the same high bits (a channel's commitments
 * come in order, so 256 in a row share them): at most 8 hashes a secret instead of up to 48.
 * The same bytes: derive goes from high bits to low, so stopping after the high ones and
 * going on is the same walk.
 */
export class SeedChain {
  #high: bigint | undefined;
  #highHash: Uint8Array | undefined;

  constructor(private readonly seed: Uint8Array) {
    checkSeedIndex(seed, 0n);
  }

  at(index: bigint): Uint8Array {
    checkSeedIndex(this.seed, index);
    const high = (index >> LOW_BITS) << LOW_BITS;
    if (high !== this.#high || this.#highHash === undefined) {
      this.#highHash = derive(0n, high, this.seed);
      this.#high = high;
    }
    return derive(high, index, this.#highHash);
  }
}

interface KnownSecret {
  readonly index: bigint;
  readonly secret: Uint8Array;
}

/** The receiver's store of the counterparty's secrets. */
export interface SecretChain {
  /** Known secrets by position (trailing zeros of their index); holes are undefined. */
  readonly known: readonly (KnownSecret | undefined)[];
  /** The commitment number of the last secret stored; undefined while empty. */
  readonly last: bigint | undefined;
}

export const emptySecretChain: SecretChain = Object.freeze({ known: [], last: undefined });

/**
 * BOLT 3 insert_secret's check for commitment number n: the secret derives every secret
 * stored at a lower position ("the secret is wrong" otherwise).
 */
export function secretFitsChain(chain: SecretChain, n: bigint, secret: Uint8Array): boolean {
  const index = shachainIndex(n);
  const pos = position(index);
  for (let i = 0; i < pos && i < chain.known.length; i++) {
    const k = chain.known[i];
    if (k !== undefined && !equal(derive(index, k.index, secret), k.secret)) return false;
  }
  return true;
}

/**
 * BOLT 3 insert_secret's storage step, without the check: where a replay folds a secret
 * that decide() already checked, hashing it again would only slow the rebuild.
 */
export function storeSecret(chain: SecretChain, n: bigint, secret: Uint8Array): SecretChain {
  const pos = position(shachainIndex(n));
  const known = chain.known.slice();
  while (known.length < pos) known.push(undefined);
  known[pos] = { index: shachainIndex(n), secret: secret.slice() };
  return { known, last: n };
}

/** BOLT 3 insert_secret: the new chain, or undefined if the secret is wrong. */
export const insertSecret = (chain: SecretChain, n: bigint, secret: Uint8Array): SecretChain | undefined =>
  secretFitsChain(chain, n, secret) ? storeSecret(chain, n, secret) : undefined;

/** shachain_get_hash: the secret of commitment n if the chain can derive it. */
export function chainSecret(chain: SecretChain, n: bigint): Uint8Array | undefined {
  if (chain.last === undefined || n > chain.last) return undefined;
  const index = shachainIndex(n);
  for (const k of chain.known) {
    if (k !== undefined && canDerive(k.index, index)) return derive(k.index, index, k.secret);
  }
  return undefined;
}

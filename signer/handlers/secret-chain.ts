/**
 * The counterparty's per-commitment secrets as BOLT 3's compact storage ("Efficient
 * Per-commitment Secret Storage"), as immutable data that can live in SignerState.
 *
 * A secret at index I derives every secret whose index only adds bits below I's lowest set
 * bit, so at most 49 secrets (one per position = trailing zeros of I) hold them all.
 * Commitment number n has index 2^48 - 1 - n (shachain.ts shachainIndex).
 *
 * Unlike CLN's shachain_add_hash, an empty chain accepts its first secret at any index:
 * a signer whose state begins after the channel did (lightningd restarted on an old
 * database, hsmd.md §A.7b) stores what it sees from then on; older secrets stay unknown.
 */
import { equal } from '../bytes.js';
import { shachainFromSeed, shachainIndex } from '../keys/shachain.js';

const SHACHAIN_BITS = 48;

interface KnownSecret {
  readonly index: bigint;
  readonly secret: Uint8Array;
}

export interface SecretChain {
  /** Known secrets by position (trailing zeros of their index); holes are undefined. */
  readonly known: readonly (KnownSecret | undefined)[];
  /** The commitment number of the last secret stored; undefined while empty. */
  readonly last: bigint | undefined;
}

export const emptySecretChain: SecretChain = Object.freeze({ known: [], last: undefined });

/** BOLT 3 `where`: the number of trailing zero bits of an index (48 for index 0). */
function position(index: bigint): number {
  if (index === 0n) return SHACHAIN_BITS;
  let i = 0;
  while (((index >> BigInt(i)) & 1n) === 0n) i++;
  return i;
}

/**
 * BOLT 3 derive_secret from `from` to `to` (to only adds bits below from's position):
 * flip each differing bit, high to low, and SHA256 — which is generate_from_seed of the
 * `from` secret over the index from ^ to.
 */
const deriveSecret = (fromIndex: bigint, fromSecret: Uint8Array, toIndex: bigint): Uint8Array =>
  shachainFromSeed(fromSecret, fromIndex ^ toIndex);

/** Whether the secret at `from` derives the one at `to`. */
function canDerive(from: bigint, to: bigint): boolean {
  const mask = ~((1n << BigInt(position(from))) - 1n);
  return ((from ^ to) & mask) === 0n;
}

/**
 * BOLT 3 insert_secret's check for commitment number n: the secret derives every secret
 * stored at a lower position ("the secret is wrong" otherwise).
 */
export function secretFitsChain(chain: SecretChain, n: bigint, secret: Uint8Array): boolean {
  const index = shachainIndex(n);
  const pos = position(index);
  for (let i = 0; i < pos && i < chain.known.length; i++) {
    const k = chain.known[i];
    if (k !== undefined && !equal(deriveSecret(index, secret, k.index), k.secret)) return false;
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
    if (k !== undefined && canDerive(k.index, index)) return deriveSecret(k.index, k.secret, index);
  }
  return undefined;
}

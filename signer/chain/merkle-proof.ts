/**
 * Merkle proofs in the form bitcoind's `gettxoutproof` returns (a CMerkleBlock): the
 * 80-byte block header, then a partial merkle tree (docs/chain.md):
 *   u32 LE transaction count ‖ varint n ‖ n × 32-byte hashes ‖ varint m ‖ m flag bytes
 * The tree is walked depth first as Bitcoin Core's CPartialMerkleTree::ExtractMatches
 * does, with its checks: every hash and flag byte used, no two equal siblings (the
 * duplicate-subtree ambiguity of CVE-2012-2459), a plausible transaction count.
 */
import { WireError } from '../wire/errors.js';
import { WireReader } from '../wire/reader.js';
import { sha256d } from '../crypto/signatures.js';
import { HEADER_BYTES, parseHeader, type BlockHeader } from './header.js';

/** A proof that does not parse or whose tree is malformed. */
export class MerkleProofError extends Error {
  override readonly name = 'MerkleProofError';
}

export interface MerkleProof {
  readonly header: BlockHeader;
  /** The merkle root the partial tree hashes to (compare it with header.merkleRoot). */
  readonly root: Uint8Array;
  /** The txids (internal order) the proof marks as included. */
  readonly matched: readonly Uint8Array[];
}

/** Bitcoin Core's bound: a block cannot hold more transactions than 4,000,000 / 240 weight units. */
const MAX_TRANSACTIONS = 16_666;

/** Parses a proof and extracts its root and matched txids; throws MerkleProofError. */
export function parseMerkleProof(bytes: Uint8Array): MerkleProof {
  if (bytes.length < HEADER_BYTES + 4) throw new MerkleProofError(`merkle proof of ${bytes.length} bytes is too short`);
  const header = parseHeader(bytes.subarray(0, HEADER_BYTES));
  const r = new WireReader(bytes, HEADER_BYTES);
  let total: number, hashes: Uint8Array[], flags: Uint8Array;
  try {
    total = r.u32le();
    hashes = Array.from({ length: r.compactCount(32) }, () => r.bytes(32));
    flags = r.compactBytes();
  } catch (e) {
    if (e instanceof WireError) throw new MerkleProofError(`merkle proof: ${e.message}`);
    throw e;
  }
  if (!r.atEnd) throw new MerkleProofError(`merkle proof: ${r.remaining} bytes after the flag bytes`);
  const { root, matched } = extractMatches(total, hashes, flags);
  return { header, root, matched };
}

const width = (total: number, height: number): number => (total + (1 << height) - 1) >> height;

function extractMatches(total: number, hashes: readonly Uint8Array[], flags: Uint8Array): { root: Uint8Array; matched: Uint8Array[] } {
  if (total === 0) throw new MerkleProofError('merkle proof of a block without transactions');
  if (total > MAX_TRANSACTIONS) throw new MerkleProofError(`merkle proof claims ${total} transactions`);
  if (hashes.length > total) throw new MerkleProofError(`merkle proof has more hashes (${hashes.length}) than transactions (${total})`);
  const bitCount = flags.length * 8;
  if (bitCount < hashes.length) throw new MerkleProofError('merkle proof has fewer flag bits than hashes');
  let height = 0;
  while (width(total, height) > 1) height++;
  let bitsUsed = 0;
  let hashesUsed = 0;
  const matched: Uint8Array[] = [];
  const bit = (i: number): boolean => ((flags[i >> 3]! >> (i & 7)) & 1) === 1;
  const traverse = (h: number, pos: number): Uint8Array => {
    if (bitsUsed >= bitCount) throw new MerkleProofError('merkle proof runs out of flag bits');
    const parentOfMatch = bit(bitsUsed++);
    if (h === 0 || !parentOfMatch) {
      if (hashesUsed >= hashes.length) throw new MerkleProofError('merkle proof runs out of hashes');
      const hash = hashes[hashesUsed++]!;
      if (h === 0 && parentOfMatch) matched.push(hash.slice());
      return hash;
    }
    const left = traverse(h - 1, pos * 2);
    let right = left;
    if (pos * 2 + 1 < width(total, h - 1)) {
      right = traverse(h - 1, pos * 2 + 1);
      if (right.every((x, i) => x === left[i])) throw new MerkleProofError('merkle proof has two identical sibling hashes (CVE-2012-2459)');
    }
    const pair = new Uint8Array(64);
    pair.set(left, 0);
    pair.set(right, 32);
    return sha256d(pair);
  };
  const root = traverse(height, 0);
  if (((bitsUsed + 7) >> 3) !== flags.length) throw new MerkleProofError('merkle proof has unused flag bytes');
  if (hashesUsed !== hashes.length) throw new MerkleProofError('merkle proof has unused hashes');
  return { root, matched };
}

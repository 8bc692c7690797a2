/**
 * BOLT 3 "Key Derivation" (common/key_derive.c): per-commitment keys from a basepoint and the
 * per-commitment point, and the revocation key pair.
 */
import { sha256 } from '../crypto/hashes.js';
import { concat } from '../bytes.js';
import type { Curve } from '../crypto/curve.js';

/** BOLT 3: SHA256(per_commitment_point ‖ basepoint), the tweak of derive_simple_key. */
export const simpleTweak = (basepoint: Uint8Array, perCommitmentPoint: Uint8Array): Uint8Array =>
  sha256(concat(perCommitmentPoint, basepoint));

/** BOLT 3: pubkey = basepoint + SHA256(per_commitment_point ‖ basepoint)·G (derive_simple_key). */
export function derivePublicKey(curve: Curve, basepoint: Uint8Array, perCommitmentPoint: Uint8Array): Uint8Array {
  return curve.pointAddTweak(basepoint, simpleTweak(basepoint, perCommitmentPoint));
}

/**
 * BOLT 3: privkey = basepoint_secret + SHA256(per_commitment_point ‖ basepoint)
 * (derive_simple_privkey, same argument order).
 */
export function derivePrivateKey(
  curve: Curve,
  basepointSecret: Uint8Array,
  basepoint: Uint8Array,
  perCommitmentPoint: Uint8Array,
): Uint8Array {
  return curve.privateAdd(basepointSecret, simpleTweak(basepoint, perCommitmentPoint));
}

/**
 * BOLT 3: revocationpubkey = revocation_basepoint·SHA256(revocation_basepoint ‖ per_commitment_point)
 *                          + per_commitment_point·SHA256(per_commitment_point ‖ revocation_basepoint)
 * (derive_revocation_key).
 */
export function deriveRevocationPublicKey(
  curve: Curve,
  revocationBasepoint: Uint8Array,
  perCommitmentPoint: Uint8Array,
): Uint8Array {
  const a = curve.pointMul(revocationBasepoint, sha256(concat(revocationBasepoint, perCommitmentPoint)));
  const b = curve.pointMul(perCommitmentPoint, sha256(concat(perCommitmentPoint, revocationBasepoint)));
  return curve.pointAdd(a, b);
}

/**
 * BOLT 3: revocationprivkey = revocation_basepoint_secret·SHA256(revocation_basepoint ‖ per_commitment_point)
 *                           + per_commitment_secret·SHA256(per_commitment_point ‖ revocation_basepoint)
 * (derive_revocation_privkey, same argument order). The points default to the secrets times G.
 */
export function deriveRevocationPrivateKey(
  curve: Curve,
  revocationBasepointSecret: Uint8Array,
  perCommitmentSecret: Uint8Array,
  revocationBasepoint: Uint8Array = curve.publicKey(revocationBasepointSecret),
  perCommitmentPoint: Uint8Array = curve.publicKey(perCommitmentSecret),
): Uint8Array {
  const a = curve.privateMul(revocationBasepointSecret, sha256(concat(revocationBasepoint, perCommitmentPoint)));
  const b = curve.privateMul(perCommitmentSecret, sha256(concat(perCommitmentPoint, revocationBasepoint)));
  return curve.privateAdd(a, b);
}

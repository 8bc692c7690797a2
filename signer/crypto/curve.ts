/**
 * The secp256k1 operations the signer needs, behind one small interface.
 *
 * The signer never calls a curve library directly: it receives a `Curve`. On Node it is
 * libsecp256k1 (node/curve-native.ts), or `nobleCurve` where the addon is missing; the device
 * has our own (signer/crypto/secp256k1/curve.ts), which can be preloaded into flash. Every
 * backend's outputs are byte-identical (node/curve-native.test.ts).
 *
 * All keys are 32-byte scalars, all points 33-byte compressed, all hashes 32 bytes.
 */
export interface Curve {
  /** Compressed public key of a private key. */
  publicKey(priv: Uint8Array): Uint8Array;
  /** True if 0 < priv < n. */
  isPrivateKey(priv: Uint8Array): boolean;
  /** (a + b) mod n for a valid key a and b < n (secp256k1_ec_seckey_tweak_add); throws if zero. */
  privateAdd(a: Uint8Array, b: Uint8Array): Uint8Array;
  /** (a * b) mod n, both in [1, n-1] (secp256k1_ec_seckey_tweak_mul). */
  privateMul(a: Uint8Array, b: Uint8Array): Uint8Array;
  /** P + Q, compressed. */
  pointAdd(p: Uint8Array, q: Uint8Array): Uint8Array;
  /** scalar * P, compressed; scalar in [1, n-1], treated as secret (constant time). */
  pointMul(p: Uint8Array, scalar: Uint8Array): Uint8Array;
  /**
   * P + tweak * G, compressed; tweak in [0, n-1] (secp256k1_ec_pubkey_tweak_add), a zero
   * tweak returns P itself (after parsing, so it also validates P). Tweaks are public.
   */
  pointAddTweak(p: Uint8Array, tweak: Uint8Array): Uint8Array;
  /**
   * ECDSA over a 32-byte hash: RFC 6979 nonce with libsecp256k1's optional 32 bytes of
   * extra data (appended to key ‖ msg in the HMAC-DRBG seed; absent = ndata NULL, which is
   * NOT the same nonce as 32 zero bytes), low-S, 64-byte compact r‖s.
   */
  sign(hash: Uint8Array, priv: Uint8Array, extraEntropy?: Uint8Array): Uint8Array;
  /** As `sign`, plain RFC 6979, plus the recovery id (0..3). */
  signRecoverable(hash: Uint8Array, priv: Uint8Array): { signature: Uint8Array; recovery: number };
  /**
   * ECDSA verification of a compact signature, low-S only (libsecp256k1
   * secp256k1_ecdsa_verify, which CLN uses): (r, n−s) verifies whenever (r, s) does, so
   * accepting both would give every signature a second spelling (docs/remote-protocol.md
   * "Connecting": a replayed login token in its other form).
   */
  verify(signature: Uint8Array, hash: Uint8Array, pub: Uint8Array): boolean;
  /** BIP 340 Schnorr signature of a 32-byte message with 32 bytes of aux randomness. */
  signSchnorr(message: Uint8Array, priv: Uint8Array, aux: Uint8Array): Uint8Array;
  /** BIP 340 verification against a 32-byte x-only key. */
  verifySchnorr(signature: Uint8Array, message: Uint8Array, xOnly: Uint8Array): boolean;
  /** libsecp256k1's default ECDH: SHA256(compressed(priv * P)). */
  ecdh(priv: Uint8Array, point: Uint8Array): Uint8Array;
  /**
   * True if `p` is 33 bytes that secp256k1_ec_pubkey_parse takes as a compressed key: 02 or 03,
   * then an x below p with x³ + 7 a square mod p (CLN's pubkey_from_der, node_id_valid). Any
   * other length or prefix is false. A check only: nothing is computed from the point.
   */
  isCompressedPoint(p: Uint8Array): boolean;
}

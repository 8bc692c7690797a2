/**
 * CLN's signing rules on top of a `Curve`, and the hashes around them.
 *
 * Which rule signs what (docs/hsmd-protocol.md#signing, cln-hsmd-facts.json signing_nonce_facts):
 * - `signLowR`: bitcoin/signature.c sign_hash. Every tx signature hsmd makes itself
 *   (commitment, HTLC, closing, penalty…) and channel_announcement, node_announcement,
 *   channel_update.
 * - `signLowRLibwally`: libwally wally_ec_sig_from_bytes with EC_FLAG_GRIND_R, which
 *   wally_psbt_sign uses for wallet PSBT inputs. Its first try has *no* extra data.
 * - `signRecoverableRfc6979`: sign_invoice and sign_message (plain RFC 6979, recoverable).
 * - `signSchnorrBip340`: sign_bolt12 / sign_bolt12_2 (aux_rand32 = NULL ≡ 32 zero bytes).
 */
import { concat, putU32le, toHex, utf8 } from '../bytes.js';
import type { Curve } from './curve.js';
import { ripemd160, sha256 } from './hashes.js';

export { sha256 };

/** SHA-256 twice (CLN's sha256_double). */
export const sha256d = (data: Uint8Array): Uint8Array => sha256(sha256(data));

/** RIPEMD160(SHA256(data)): P2WPKH programs, BIP 32 fingerprints. */
export const hash160 = (data: Uint8Array): Uint8Array => ripemd160(sha256(data));

// A plain object, not a Map: a preloaded Map cannot take entries on the device, an object can
// (docs/device-memory.md "Built by mcconfig").
const tagHashes: Record<string, Uint8Array> = Object.create(null) as Record<string, Uint8Array>;
let tagHashCount = 0;

/**
 * BIP 340 tagged hash: SHA256(SHA256(tag) ‖ SHA256(tag) ‖ msg…). The tag is text (UTF-8) or
 * raw bytes (BOLT 12 builds it from wire strings). A few SHA256(tag) values are cached.
 */
export function taggedHash(tag: string | Uint8Array, ...messages: Uint8Array[]): Uint8Array {
  const tagBytes = typeof tag === 'string' ? utf8(tag) : tag;
  const cacheKey = typeof tag === 'string' ? 's' + tag : 'b' + toHex(tag);
  let th = tagHashes[cacheKey];
  if (th === undefined) {
    th = sha256(tagBytes);
    if (tagHashCount < 64) { // a handful of tags recur; bound anyway
      tagHashes[cacheKey] = th;
      tagHashCount++;
    }
  }
  return sha256(concat(th, th, ...messages));
}

/**
 * bitcoin/signature.c sig_has_low_r: compact r's top bit clear, i.e. r < 2^255, so the DER
 * integer needs no 0x00 pad.
 */
export const hasLowR = (compact: Uint8Array): boolean => compact[0]! < 0x80;

/**
 * CLN's sign_hash (bitcoin/signature.c L97-L118): ECDSA grinding for low R.
 * `extra_entropy` is 32 bytes starting ALL ZERO (so even the first try is not plain
 * RFC 6979), passed to secp256k1_ecdsa_sign as ndata; after each try
 * `((u32 *)extra_entropy)[0]++` (little-endian on every platform CLN runs on) until r < 2^255.
 */
export const signLowR = (curve: Curve, hash: Uint8Array, priv: Uint8Array): Uint8Array => grindLowR(curve, hash, priv, 0);

/**
 * libwally wally_ec_sig_from_bytes_aux with EC_FLAG_GRIND_R (src/sign.c): the first try is
 * plain RFC 6979 (entropy pointer NULL); then 32 bytes whose first u32 little-endian is
 * 1, 2, … until r < 2^255.
 */
export function signLowRLibwally(curve: Curve, hash: Uint8Array, priv: Uint8Array): Uint8Array {
  const first = curve.sign(hash, priv);
  return hasLowR(first) ? first : grindLowR(curve, hash, priv, 1);
}

/** Both grinds: 32 bytes of extra entropy whose first u32 little-endian counts from `from` until r < 2^255. */
function grindLowR(curve: Curve, hash: Uint8Array, priv: Uint8Array, from: number): Uint8Array {
  const extra = new Uint8Array(32);
  for (let i = from; ; i++) {
    putU32le(extra, 0, i);
    const sig = curve.sign(hash, priv, extra);
    if (hasLowR(sig)) return sig;
  }
}

/**
 * secp256k1_ecdsa_sign_recoverable(…, NULL, NULL): plain RFC 6979, low S
 * (libhsmd.c handle_sign_invoice, handle_sign_message).
 */
export function signRecoverableRfc6979(
  curve: Curve,
  hash: Uint8Array,
  priv: Uint8Array,
): { signature: Uint8Array; recovery: number } {
  return curve.signRecoverable(hash, priv);
}

const ZERO_AUX = new Uint8Array(32);

/** secp256k1_schnorrsig_sign32(…, aux_rand32 = NULL), which BIP 340 defines as aux = 0^32. */
export function signSchnorrBip340(curve: Curve, message: Uint8Array, priv: Uint8Array): Uint8Array {
  return curve.signSchnorr(message, priv, ZERO_AUX);
}

/**
 * BIP 341 key-path spending: the signature message for SIGHASH_DEFAULT / SIGHASH_ALL (no
 * annex, no script path) and the private-key tweak libwally applies before signing
 * (wally_ec_private_key_bip341_tweak in src/sign.c).
 */
import { sha256 } from '../crypto/hashes.js';
import { concat } from '../bytes.js';
import type { Curve } from '../crypto/curve.js';
import { taggedHash } from '../crypto/signatures.js';
import type { Tx } from '../bolt3/tx.js';
import { WireWriter } from '../wire/writer.js';

/** What an input spends: its amount and scriptPubKey. */
export interface SpentOutput {
  readonly amountSat: bigint;
  readonly scriptPubKey: Uint8Array;
}

export const SIGHASH_DEFAULT = 0x00;

/** secp256k1 group order minus one: multiplying by it negates a private key. */
const N_MINUS_1 = Uint8Array.from(
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
   0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x40],
);

const sha = (write: (w: WireWriter) => void): Uint8Array => {
  const w = new WireWriter();
  write(w);
  return sha256(w.finish());
};

/**
 * BIP 341 SigMsg(hash_type, ext_flag = 0) for input `index` of `tx`, then
 * TapSighash = tagged_hash("TapSighash", 0x00 ‖ SigMsg). Only SIGHASH_DEFAULT (0x00) and
 * SIGHASH_ALL (0x01) are supported: what libwally uses for an input without a sighash field.
 */
export function taprootKeySpendSighash(tx: Tx, index: number, spent: readonly SpentOutput[], hashType: number): Uint8Array {
  if (hashType !== SIGHASH_DEFAULT && hashType !== 0x01) throw new RangeError(`unsupported taproot sighash ${hashType}`);
  if (spent.length !== tx.inputs.length) throw new RangeError('need the spent output of every input');
  const w = new WireWriter();
  w.u8(0x00); // BIP 341: epoch 0
  w.u8(hashType); // hash_type
  w.u32le(tx.version); // nVersion
  w.u32le(tx.locktime); // nLockTime
  // BIP 341: not ANYONECANPAY → sha_prevouts, sha_amounts, sha_scriptpubkeys, sha_sequences.
  w.bytes(sha((h) => tx.inputs.forEach((i) => (h.bytes(i.prevTxid), h.u32le(i.prevVout)))));
  w.bytes(sha((h) => spent.forEach((s) => h.u64le(s.amountSat))));
  w.bytes(sha((h) => spent.forEach((s) => h.compactBytes(s.scriptPubKey))));
  w.bytes(sha((h) => tx.inputs.forEach((i) => h.u32le(i.sequence))));
  // Not NONE or SINGLE → sha_outputs.
  w.bytes(sha((h) => tx.outputs.forEach((o) => (h.u64le(o.amountSat), h.compactBytes(o.scriptPubKey)))));
  w.u8(0x00); // spend_type: ext_flag 0, no annex
  w.u32le(index); // input_index
  return taggedHash('TapSighash', w.finish());
}

/**
 * BIP 341 taproot_tweak_seckey: negate the key if its point has odd y, then add
 * t = tagged_hash("TapTweak", xonly(P) [‖ merkle_root]).
 */
export function tweakPrivateKey(curve: Curve, priv: Uint8Array, merkleRoot?: Uint8Array): Uint8Array {
  const point = curve.publicKey(priv);
  const even = point[0] === 0x02 ? priv : curve.privateMul(priv, N_MINUS_1);
  const tweak = taggedHash('TapTweak', merkleRoot ? concat(point.subarray(1), merkleRoot) : point.subarray(1));
  return curve.privateAdd(even, tweak);
}

/** BIP 86 output key of an internal key: x-only of P + tagged_hash("TapTweak", xonly(P))·G, even-y P. */
export function taprootOutputKey(curve: Curve, internal: Uint8Array): Uint8Array {
  const even = Uint8Array.of(0x02, ...internal.subarray(internal.length - 32));
  const tweak = taggedHash('TapTweak', even.subarray(1));
  return curve.pointAddTweak(even, tweak).subarray(1);
}

/** OP_1 <32-byte output key>. */
export const p2trScript = (outputKey: Uint8Array): Uint8Array => Uint8Array.of(0x51, 0x20, ...outputKey);

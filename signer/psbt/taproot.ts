/**
 * BIP 341 key-path spending: the signature message for each hash type (no annex, no script
 * path) and the private-key tweak libwally applies before signing
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

/** BIP 341's hash types: DEFAULT, ALL, NONE, SINGLE, and the last three with ANYONECANPAY. */
const TAPROOT_SIGHASH_TYPES: ReadonlySet<number> = new Set([0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83]);
const SIGHASH_NONE = 0x02;
const SIGHASH_SINGLE = 0x03;
const SIGHASH_ANYONECANPAY = 0x80;

/** True if BIP 341 defines `hashType` (libwally signs a key path with any of them). */
export const isTaprootSighash = (hashType: number): boolean => TAPROOT_SIGHASH_TYPES.has(hashType);

/**
 * BIP 341 SigMsg(hash_type, ext_flag = 0) for input `index` of `tx` (key path: no annex, no
 * script), then TapSighash = tagged_hash("TapSighash", 0x00 ‖ SigMsg). Every BIP 341 hash type;
 * SIGHASH_SINGLE needs an output at `index`.
 */
export function taprootKeySpendSighash(tx: Tx, index: number, spent: readonly SpentOutput[], hashType: number): Uint8Array {
  if (!isTaprootSighash(hashType)) throw new RangeError(`unsupported taproot sighash ${hashType}`);
  if (spent.length !== tx.inputs.length) throw new RangeError('need the spent output of every input');
  const anyoneCanPay = (hashType & SIGHASH_ANYONECANPAY) !== 0;
  const outputType = hashType & 0x03;
  if (outputType === SIGHASH_SINGLE && index >= tx.outputs.length) throw new RangeError(`SIGHASH_SINGLE for input ${index} without its output`);
  const w = new WireWriter();
  w.u8(0x00); // BIP 341: epoch 0
  w.u8(hashType); // hash_type
  w.u32le(tx.version); // nVersion
  w.u32le(tx.locktime); // nLockTime
  if (!anyoneCanPay) {
    w.bytes(sha((h) => tx.inputs.forEach((i) => (h.bytes(i.prevTxid), h.u32le(i.prevVout)))));
    w.bytes(sha((h) => spent.forEach((s) => h.u64le(s.amountSat))));
    w.bytes(sha((h) => spent.forEach((s) => h.compactBytes(s.scriptPubKey))));
    w.bytes(sha((h) => tx.inputs.forEach((i) => h.u32le(i.sequence))));
  }
  if (outputType !== SIGHASH_NONE && outputType !== SIGHASH_SINGLE) {
    w.bytes(sha((h) => tx.outputs.forEach((o) => (h.u64le(o.amountSat), h.compactBytes(o.scriptPubKey)))));
  }
  w.u8(0x00); // spend_type: ext_flag 0, no annex
  if (anyoneCanPay) {
    const input = tx.inputs[index]!;
    w.bytes(input.prevTxid);
    w.u32le(input.prevVout);
    w.u64le(spent[index]!.amountSat);
    w.compactBytes(spent[index]!.scriptPubKey);
    w.u32le(input.sequence);
  } else {
    w.u32le(index); // input_index
  }
  if (outputType === SIGHASH_SINGLE) {
    const output = tx.outputs[index]!;
    w.bytes(sha((h) => (h.u64le(output.amountSat), h.compactBytes(output.scriptPubKey))));
  }
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

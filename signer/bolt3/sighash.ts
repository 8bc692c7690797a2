/**
 * BIP 143 signature hashes for segwit v0 inputs (all BOLT 3 transactions, CLN's P2WPKH and
 * P2SH-P2WPKH wallet inputs).
 *
 * Why our own code and not bitcoinjs-lib: v7's Transaction.hashForWitnessV0 is Uint8Array
 * based, but it validates with valibot, pulls bip174, bs58check, varuint-bitcoin,
 * uint8array-tools and its own @noble/hashes v1 onto the device, and recomputes
 * hashPrevouts/hashSequence/hashOutputs on every call. BIP 143 is a page of code, and
 * owning it lets a transaction's three midstate hashes be computed once for all its
 * inputs (`sighasher`), as BIP 143 intends.
 */
import { sha256 } from '../crypto/hashes.js';
import { WireWriter } from '../wire/writer.js';
import type { Tx } from './tx.js';

export const SIGHASH_ALL = 0x01;
export const SIGHASH_NONE = 0x02;
export const SIGHASH_SINGLE = 0x03;
export const SIGHASH_ANYONECANPAY = 0x80;

const sha256d = (b: Uint8Array): Uint8Array => sha256(sha256(b));
const ZERO32 = new Uint8Array(32);

/** Computes BIP 143 sighashes for any input of one transaction (which must not change). */
export interface Sighasher {
  sighash(inputIndex: number, scriptCode: Uint8Array, amountSat: bigint, sighashType: number): Uint8Array;
}

/**
 * A sighasher for `tx`. hashPrevouts, hashSequence and hashOutputs are computed on first
 * use and reused for every later input (BIP 143: "can be cached across signatures").
 */
export function sighasher(tx: Tx): Sighasher {
  let hashPrevouts: Uint8Array | undefined;
  let hashSequence: Uint8Array | undefined;
  let hashOutputs: Uint8Array | undefined;

  const prevouts = (): Uint8Array => {
    if (hashPrevouts === undefined) {
      const w = new WireWriter(36 * tx.inputs.length);
      for (const i of tx.inputs) {
        w.bytes(i.prevTxid);
        w.u32le(i.prevVout);
      }
      hashPrevouts = sha256d(w.finish());
    }
    return hashPrevouts;
  };
  const sequences = (): Uint8Array => {
    if (hashSequence === undefined) {
      const w = new WireWriter(4 * tx.inputs.length);
      for (const i of tx.inputs) w.u32le(i.sequence);
      hashSequence = sha256d(w.finish());
    }
    return hashSequence;
  };
  const outputs = (): Uint8Array => {
    if (hashOutputs === undefined) {
      const w = new WireWriter(48 * tx.outputs.length);
      for (const o of tx.outputs) {
        w.u64le(o.amountSat);
        w.compactBytes(o.scriptPubKey);
      }
      hashOutputs = sha256d(w.finish());
    }
    return hashOutputs;
  };

  return {
    sighash(inputIndex, scriptCode, amountSat, sighashType) {
      const input = tx.inputs[inputIndex];
      if (input === undefined) throw new RangeError('no input ' + inputIndex);
      const anyoneCanPay = (sighashType & SIGHASH_ANYONECANPAY) !== 0;
      const base = sighashType & 0x1f;
      const w = new WireWriter(160 + scriptCode.length);
      w.u32le(tx.version); // BIP 143 1. nVersion
      w.bytes(anyoneCanPay ? ZERO32 : prevouts()); // 2. hashPrevouts
      // 3. hashSequence: only for ALL without ANYONECANPAY
      w.bytes(anyoneCanPay || base === SIGHASH_SINGLE || base === SIGHASH_NONE ? ZERO32 : sequences());
      w.bytes(input.prevTxid); // 4. outpoint
      w.u32le(input.prevVout);
      w.compactBytes(scriptCode); // 5. scriptCode
      w.u64le(amountSat); // 6. value of the output spent
      w.u32le(input.sequence); // 7. nSequence
      // 8. hashOutputs: all outputs; SINGLE: the output at our index (zero if none); NONE: zero
      if (base !== SIGHASH_SINGLE && base !== SIGHASH_NONE) w.bytes(outputs());
      else if (base === SIGHASH_SINGLE && inputIndex < tx.outputs.length) {
        const o = tx.outputs[inputIndex]!;
        const one = new WireWriter(9 + o.scriptPubKey.length);
        one.u64le(o.amountSat);
        one.compactBytes(o.scriptPubKey);
        w.bytes(sha256d(one.finish()));
      } else w.bytes(ZERO32);
      w.u32le(tx.locktime); // 9. nLocktime
      w.u32le(sighashType >>> 0); // 10. sighash type (4 bytes)
      return sha256d(w.finish());
    },
  };
}

/** BIP 143 sighash of one input (for several inputs of one tx, reuse a `sighasher`). */
export function witnessV0Sighash(
  tx: Tx,
  inputIndex: number,
  scriptCode: Uint8Array,
  amountSat: bigint,
  sighashType: number,
): Uint8Array {
  return sighasher(tx).sighash(inputIndex, scriptCode, amountSat, sighashType);
}

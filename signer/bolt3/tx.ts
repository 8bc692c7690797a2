/**
 * Bitcoin transactions: explicit types, a byte-exact serializer and parser, txid and weight.
 *
 * Serialization (BIP 144): the witness form (marker 0x00, flag 0x01, per-input witness
 * stacks) is written iff at least one input has a non-empty witness, as CLN's
 * linearize_wtx does (bitcoin/tx.c). The parser accepts both forms and rejects a witness
 * form whose witnesses are all empty (Bitcoin Core's "superfluous witness record"; CLN's
 * fromwire_bitcoin_tx fails on it too, since re-measuring it gives a different length), so
 * `serializeTx(parseTx(b))` equals `b` for every accepted `b`. A malformed transaction is a
 * WireError saying what is wrong and where. Read as libwally reads the transactions inside a
 * PSBT (`readTx` with the `any` rule), a CompactSize may take any form; `canonical` says
 * whether they all took the shortest, as `serializeTx` writes them.
 *
 * Txids are 32 bytes in wire order (the order inside a serialized outpoint, i.e. the
 * reverse of the usual hex display): CLN's struct bitcoin_txid and the hsmd wire use it too.
 */
import { sha256 } from '../crypto/hashes.js';
import { type CompactRule, WireReader } from '../wire/reader.js';
import { WireWriter } from '../wire/writer.js';

/** One transaction input. */
export interface TxInput {
  /** Txid of the spent transaction, wire order. */
  prevTxid: Uint8Array;
  /** Output index in the spent transaction. */
  prevVout: number;
  scriptSig: Uint8Array;
  /** nSequence (u32). */
  sequence: number;
  /** Witness stack items; empty for a non-witness input. */
  witness: Uint8Array[];
}

/** One transaction output. */
export interface TxOutput {
  amountSat: bigint;
  scriptPubKey: Uint8Array;
}

/** A transaction (version and locktime as u32). */
export interface Tx {
  version: number;
  inputs: TxInput[];
  outputs: TxOutput[];
  locktime: number;
}

/** True if any input carries a witness (BIP 144: then the witness form is used). */
export const hasWitness = (tx: Tx): boolean => tx.inputs.some((i) => i.witness.length > 0);

function writeTx(w: WireWriter, tx: Tx, withWitness: boolean): void {
  w.u32le(tx.version);
  if (withWitness) {
    w.u8(0x00); // BIP 144 marker
    w.u8(0x01); // BIP 144 flag
  }
  w.compactSize(tx.inputs.length);
  for (const i of tx.inputs) {
    w.bytes(i.prevTxid);
    w.u32le(i.prevVout);
    w.compactBytes(i.scriptSig);
    w.u32le(i.sequence);
  }
  w.compactSize(tx.outputs.length);
  for (const o of tx.outputs) writeOutput(w, o);
  if (withWitness) {
    for (const i of tx.inputs) {
      w.compactSize(i.witness.length);
      for (const item of i.witness) w.compactBytes(item);
    }
  }
  w.u32le(tx.locktime);
}

/** Network serialization: the witness form iff some input has a witness. */
export function serializeTx(tx: Tx): Uint8Array {
  const w = new WireWriter(128 + 64 * (tx.inputs.length + tx.outputs.length));
  writeTx(w, tx, hasWitness(tx));
  return w.finish();
}

/** Serialization without witnesses (what the txid commits to). */
export function serializeTxNoWitness(tx: Tx): Uint8Array {
  const w = new WireWriter(64 + 48 * (tx.inputs.length + tx.outputs.length));
  writeTx(w, tx, false);
  return w.finish();
}

/**
 * Reads one transaction starting at `offset`; returns it and the offset just past it.
 * A 0x00 byte where the input count would be, followed by 0x01, is the BIP 144 marker and
 * flag (so a witness-less transaction with no inputs cannot be read, as in Bitcoin Core).
 */
export function readTx(bytes: Uint8Array, offset = 0, rule: CompactRule = 'canonical'): { tx: Tx; end: number; canonical: boolean } {
  const r = new WireReader(bytes, offset);
  const version = r.u32le();
  let segwit = false;
  if (r.remaining >= 2 && r.peek(2)[0] === 0x00 && r.peek(2)[1] === 0x01) {
    segwit = true;
    r.bytes(2);
  }
  const inputs: TxInput[] = [];
  const nIn = r.compactCount(41, rule);
  for (let k = 0; k < nIn; k++) {
    const prevTxid = r.bytes(32);
    const prevVout = r.u32le();
    const scriptSig = r.compactBytes(rule);
    const sequence = r.u32le();
    inputs.push({ prevTxid, prevVout, scriptSig, sequence, witness: [] });
  }
  const outputs: TxOutput[] = [];
  const nOut = r.compactCount(9, rule);
  for (let k = 0; k < nOut; k++) outputs.push(readOutput(r, rule));
  if (segwit) {
    for (const input of inputs) {
      const nItems = r.compactCount(1, rule);
      for (let k = 0; k < nItems; k++) input.witness.push(r.compactBytes(rule));
    }
    if (!inputs.some((i) => i.witness.length > 0)) r.fail('superfluous witness record');
  }
  const locktime = r.u32le();
  return { tx: { version, inputs, outputs, locktime }, end: r.offset, canonical: !r.nonCanonical };
}

/** One output as transactions serialize it: u64 amount ‖ CompactSize script. */
function readOutput(r: WireReader, rule: CompactRule): TxOutput {
  const amountSat = r.u64le();
  return { amountSat, scriptPubKey: r.compactBytes(rule) };
}

function writeOutput(w: WireWriter, o: TxOutput): void {
  w.u64le(o.amountSat);
  w.compactBytes(o.scriptPubKey);
}

/** One serialized output filling `bytes` (a PSBT's witness UTXO); WireError otherwise. */
export function parseTxOut(bytes: Uint8Array, rule: CompactRule = 'canonical'): TxOutput {
  const r = new WireReader(bytes);
  const out = readOutput(r, rule);
  if (!r.atEnd) r.fail('trailing bytes after the output');
  return out;
}

export function serializeTxOut(o: TxOutput): Uint8Array {
  const w = new WireWriter(9 + o.scriptPubKey.length);
  writeOutput(w, o);
  return w.finish();
}

/** Parses exactly one transaction filling `bytes`. */
export function parseTx(bytes: Uint8Array): Tx {
  const r = new WireReader(bytes);
  const { tx, end } = readTx(bytes, 0);
  if (end !== bytes.length) r.fail('trailing bytes after transaction', end);
  return tx;
}

/** Txid, wire order: SHA256d of the witness-less serialization. */
export function txid(tx: Tx): Uint8Array {
  return sha256(sha256(serializeTxNoWitness(tx)));
}

/** Reverses a txid between wire order and display (hex) order. */
export const reverseTxid = (id: Uint8Array): Uint8Array => id.slice().reverse();

/** BIP 141 weight: 3 × stripped size + total size. */
export function txWeight(tx: Tx): number {
  return 3 * serializeTxNoWitness(tx).length + serializeTx(tx).length;
}

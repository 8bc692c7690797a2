/**
 * Bitcoin transactions: explicit types, a byte-exact serializer and parser, txid and weight.
 *
 * Serialization (BIP 144): the witness form (marker 0x00, flag 0x01, per-input witness
 * stacks) is written iff at least one input has a non-empty witness, as CLN's
 * linearize_wtx does (bitcoin/tx.c). The parser accepts both forms and rejects a witness
 * form whose witnesses are all empty (Bitcoin Core's "superfluous witness record"; CLN's
 * fromwire_bitcoin_tx fails on it too, since re-measuring it gives a different length), so
 * `serializeTx(parseTx(b))` equals `b` for every accepted `b`.
 *
 * Txids are 32 bytes in wire order (the order inside a serialized outpoint, i.e. the
 * reverse of the usual hex display): CLN's struct bitcoin_txid and the hsmd wire use it too.
 */
import { sha256 } from '@noble/hashes/sha2.js';

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

/** Growable little-endian byte writer. */
export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf[this.len++] = v;
  }

  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.len, v, true);
    this.len += 4;
  }

  u64(v: bigint): void {
    this.reserve(8);
    this.view.setBigUint64(this.len, v, true);
    this.len += 8;
  }

  /** Bitcoin CompactSize. */
  varint(v: number): void {
    if (v < 0xfd) this.u8(v);
    else if (v <= 0xffff) {
      this.u8(0xfd);
      this.reserve(2);
      this.view.setUint16(this.len, v, true);
      this.len += 2;
    } else if (v <= 0xffffffff) {
      this.u8(0xfe);
      this.u32(v);
    } else {
      this.u8(0xff);
      this.u64(BigInt(v));
    }
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** CompactSize length, then the bytes. */
  varBytes(b: Uint8Array): void {
    this.varint(b.length);
    this.bytes(b);
  }

  /** The bytes written so far (a copy). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Little-endian byte reader over a slice; throws RangeError on truncation. */
class ByteReader {
  private readonly view: DataView;
  constructor(
    private readonly b: Uint8Array,
    public pos: number,
  ) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  private need(n: number): void {
    if (this.pos + n > this.b.length) throw new RangeError('transaction truncated');
  }

  u8(): number {
    this.need(1);
    return this.b[this.pos++]!;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** CompactSize, canonical (shortest) form only, as Bitcoin Core's ReadCompactSize. */
  varint(): number {
    const first = this.u8();
    let v: number;
    if (first < 0xfd) return first;
    if (first === 0xfd) {
      this.need(2);
      v = this.view.getUint16(this.pos, true);
      this.pos += 2;
      if (v < 0xfd) throw new RangeError('non-canonical CompactSize');
    } else if (first === 0xfe) {
      v = this.u32();
      if (v <= 0xffff) throw new RangeError('non-canonical CompactSize');
    } else {
      const big = this.u64();
      if (big <= 0xffffffffn) throw new RangeError('non-canonical CompactSize');
      throw new RangeError('CompactSize too large');
    }
    return v;
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.b.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  varBytes(): Uint8Array {
    return this.bytes(this.varint());
  }

  /** A count of items each at least `minSize` bytes long, bounded by the bytes left. */
  count(minSize: number): number {
    const n = this.varint();
    if (n * minSize > this.b.length - this.pos) throw new RangeError('transaction truncated');
    return n;
  }
}

/** True if any input carries a witness (BIP 144: then the witness form is used). */
export const hasWitness = (tx: Tx): boolean => tx.inputs.some((i) => i.witness.length > 0);

function writeTx(w: ByteWriter, tx: Tx, withWitness: boolean): void {
  w.u32(tx.version);
  if (withWitness) {
    w.u8(0x00); // BIP 144 marker
    w.u8(0x01); // BIP 144 flag
  }
  w.varint(tx.inputs.length);
  for (const i of tx.inputs) {
    w.bytes(i.prevTxid);
    w.u32(i.prevVout);
    w.varBytes(i.scriptSig);
    w.u32(i.sequence);
  }
  w.varint(tx.outputs.length);
  for (const o of tx.outputs) {
    w.u64(o.amountSat);
    w.varBytes(o.scriptPubKey);
  }
  if (withWitness) {
    for (const i of tx.inputs) {
      w.varint(i.witness.length);
      for (const item of i.witness) w.varBytes(item);
    }
  }
  w.u32(tx.locktime);
}

/** Network serialization: the witness form iff some input has a witness. */
export function serializeTx(tx: Tx): Uint8Array {
  const w = new ByteWriter(128 + 64 * (tx.inputs.length + tx.outputs.length));
  writeTx(w, tx, hasWitness(tx));
  return w.finish();
}

/** Serialization without witnesses (what the txid commits to). */
export function serializeTxNoWitness(tx: Tx): Uint8Array {
  const w = new ByteWriter(64 + 48 * (tx.inputs.length + tx.outputs.length));
  writeTx(w, tx, false);
  return w.finish();
}

/**
 * Reads one transaction starting at `offset`; returns it and the offset just past it.
 * A 0x00 byte where the input count would be, followed by 0x01, is the BIP 144 marker and
 * flag (so a witness-less transaction with no inputs cannot be read, as in Bitcoin Core).
 */
export function readTx(bytes: Uint8Array, offset = 0): { tx: Tx; end: number } {
  const r = new ByteReader(bytes, offset);
  const version = r.u32();
  let segwit = false;
  if (bytes[r.pos] === 0x00 && bytes[r.pos + 1] === 0x01) {
    segwit = true;
    r.pos += 2;
  }
  const inputs: TxInput[] = [];
  const nIn = r.count(41);
  for (let k = 0; k < nIn; k++) {
    const prevTxid = r.bytes(32);
    const prevVout = r.u32();
    const scriptSig = r.varBytes();
    const sequence = r.u32();
    inputs.push({ prevTxid, prevVout, scriptSig, sequence, witness: [] });
  }
  const outputs: TxOutput[] = [];
  const nOut = r.count(9);
  for (let k = 0; k < nOut; k++) {
    const amountSat = r.u64();
    outputs.push({ amountSat, scriptPubKey: r.varBytes() });
  }
  if (segwit) {
    for (const input of inputs) {
      const nItems = r.count(1);
      for (let k = 0; k < nItems; k++) input.witness.push(r.varBytes());
    }
    if (!inputs.some((i) => i.witness.length > 0)) throw new RangeError('superfluous witness record');
  }
  const locktime = r.u32();
  return { tx: { version, inputs, outputs, locktime }, end: r.pos };
}

/** Parses exactly one transaction filling `bytes`. */
export function parseTx(bytes: Uint8Array): Tx {
  const { tx, end } = readTx(bytes, 0);
  if (end !== bytes.length) throw new RangeError('trailing bytes after transaction');
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

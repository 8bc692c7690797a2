/**
 * The value of the output a PSBT input spends: all hsmd needs from a bitcoin_tx's PSBT to
 * sign a segwit input (bitcoin/signature.c bitcoin_tx_hash_for_sig takes the amount from
 * `psbt_input_get_amount`, bitcoin/psbt.c).
 *
 * Only BIP 174 version 0 is read (lightningd forces every PSBT on the wire to v0,
 * hsmd.md §A.8): magic, the global map (whose unsigned tx gives the input count), then one
 * map per input. Each map is key-value pairs `<compact size keylen><key><compact size
 * vallen><value>` closed by a 0x00 byte.
 */
import { readTx } from '../bolt3/tx.js';

const MAGIC = [0x70, 0x73, 0x62, 0x74, 0xff]; // "psbt" 0xff
const PSBT_GLOBAL_UNSIGNED_TX = 0x00;
const PSBT_IN_NON_WITNESS_UTXO = 0x00;
const PSBT_IN_WITNESS_UTXO = 0x01;

/** A malformed PSBT, or one without the spent output of the input asked for. */
export class PsbtError extends Error {}

interface KeyValue {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

class Cursor {
  pos = 0;
  constructor(private readonly b: Uint8Array) {}

  byte(): number {
    const v = this.b[this.pos];
    if (v === undefined) throw new PsbtError('PSBT truncated');
    this.pos++;
    return v;
  }

  /** Bitcoin compact size (as a number: PSBT fields are far below 2^53). */
  compactSize(): number {
    const first = this.byte();
    const width = first === 0xfd ? 2 : first === 0xfe ? 4 : first === 0xff ? 8 : 0;
    if (width === 0) return first;
    let v = 0;
    for (let i = 0; i < width; i++) v += this.byte() * 2 ** (8 * i);
    return v;
  }

  bytes(n: number): Uint8Array {
    if (this.pos + n > this.b.length) throw new PsbtError('PSBT truncated');
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** One map, up to and including its 0x00 separator. */
  map(): KeyValue[] {
    const entries: KeyValue[] = [];
    for (;;) {
      const keyLen = this.compactSize();
      if (keyLen === 0) return entries;
      const key = this.bytes(keyLen);
      const value = this.bytes(this.compactSize());
      entries.push({ key, value });
    }
  }
}

const u64le = (b: Uint8Array, at: number): bigint => {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i]!);
  return v;
};

/**
 * psbt_input_get_amount(psbt, index): the witness UTXO's value if the input has one, else
 * the spent output of its non-witness UTXO. Throws PsbtError otherwise.
 */
export function psbtInputAmount(psbt: Uint8Array, index: number): bigint {
  const c = new Cursor(psbt);
  if (!MAGIC.every((m) => c.byte() === m)) throw new PsbtError('not a PSBT (bad magic)');
  const unsigned = c.map().find((kv) => kv.key.length === 1 && kv.key[0] === PSBT_GLOBAL_UNSIGNED_TX);
  if (!unsigned) throw new PsbtError('PSBT v0 without an unsigned tx');
  const tx = parseOrThrow(unsigned.value);
  const input = tx.inputs[index];
  if (!input) throw new PsbtError(`PSBT has no input ${index}`);
  let map: KeyValue[] = [];
  for (let i = 0; i <= index; i++) map = c.map();

  const witnessUtxo = map.find((kv) => kv.key.length === 1 && kv.key[0] === PSBT_IN_WITNESS_UTXO);
  if (witnessUtxo) {
    if (witnessUtxo.value.length < 9) throw new PsbtError('PSBT witness utxo truncated');
    return u64le(witnessUtxo.value, 0); // BIP 174: CTxOut = value (8 LE) ‖ scriptPubKey
  }
  const utxo = map.find((kv) => kv.key.length === 1 && kv.key[0] === PSBT_IN_NON_WITNESS_UTXO);
  if (utxo) {
    const out = parseOrThrow(utxo.value).outputs[input.prevVout];
    if (!out) throw new PsbtError('PSBT utxo lacks the spent output');
    return out.amountSat;
  }
  throw new PsbtError(`PSBT input ${index} has no utxo`);
}

function parseOrThrow(bytes: Uint8Array) {
  try {
    return readTx(bytes).tx;
  } catch (e) {
    throw new PsbtError(`PSBT holds a malformed tx: ${(e as Error).message}`);
  }
}

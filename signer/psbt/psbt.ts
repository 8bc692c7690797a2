/**
 * PSBT version 0 (BIP 174/371) as CLN's hsmd sees it through libwally: every key-value
 * record kept raw, and serialization in the order libwally's wally_psbt_to_bytes writes
 * (libwally-core src/psbt.c push_psbt_input / push_psbt_output, at the commit CLN v25.12.1
 * pins, 12f5ac4c):
 *
 * - global: unsigned tx (0x00), xpubs (0x01), [v2 only fields], version (0xfb) only when 2
 *   (so an explicit version 0 record is dropped), then unknown/proprietary records;
 * - input: 0x00 non-witness utxo, 0x01 witness utxo, then, unless the input is finalized
 *   (0x07 or 0x08 present), 0x02 partial sigs, 0x03 sighash, 0x04 redeem script, 0x05 witness
 *   script, 0x06 BIP 32 derivations; then 0x07, 0x08, 0x09, preimages 0x0a..0x0d,
 *   0x13 tap key sig, 0x14 tap script sigs, 0x15 tap leaf scripts, 0x16 tap BIP 32
 *   derivations, 0x17 tap internal key, 0x18 tap merkle root, unknowns;
 * - output: 0x00 redeem script, 0x01 witness script, 0x02 BIP 32 derivations, 0x05 tap
 *   internal key, 0x06 tap tree, 0x07 tap BIP 32 derivations, unknowns.
 *
 * libwally keeps the entries of each group (maps such as partial sigs or keypaths) in
 * insertion order and never sorts them, so a stable sort by group rank reproduces its
 * output, and a record added later lands at the end of its group, where wally_map_add
 * appends it. Parsing a libwally-written PSBT and serializing it gives the same bytes.
 */
import { concat } from '../bytes.js';
import { readTx, serializeTxNoWitness, type Tx } from '../bolt3/tx.js';
import { WireError } from '../wire/errors.js';
import { WireReader } from '../wire/reader.js';
import { WireWriter } from '../wire/writer.js';
import { dropZeroSighashes, libwallyRefuses, writeAsLibwally, type PointCheck } from './libwally-rules.js';

/** One key-value record; `key` starts with the key type (a CompactSize, always one byte here). */
export interface PsbtRecord {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/**
 * A parsed version 0 PSBT: the three kinds of maps, records in order, and `tx`, a read-only
 * view of the unsigned transaction as CLN signs it (serialization writes the global record,
 * which holds it as CLN writes it back: see writtenBack).
 */
export interface Psbt {
  readonly tx: Tx;
  readonly global: PsbtRecord[];
  readonly inputs: PsbtRecord[][];
  readonly outputs: PsbtRecord[][];
}

export class PsbtError extends Error {
  override readonly name = 'PsbtError';
}

const MAGIC = Uint8Array.of(0x70, 0x73, 0x62, 0x74, 0xff);

export const PSBT_GLOBAL_UNSIGNED_TX = 0x00;
export const PSBT_GLOBAL_VERSION = 0xfb;
export const PSBT_IN_NON_WITNESS_UTXO = 0x00;
export const PSBT_IN_WITNESS_UTXO = 0x01;
export const PSBT_IN_PARTIAL_SIG = 0x02;
export const PSBT_IN_SIGHASH_TYPE = 0x03;
export const PSBT_IN_WITNESS_SCRIPT = 0x05;
export const PSBT_IN_BIP32_DERIVATION = 0x06;
export const PSBT_IN_FINAL_SCRIPTSIG = 0x07;
export const PSBT_IN_FINAL_SCRIPTWITNESS = 0x08;
export const PSBT_IN_TAP_KEY_SIG = 0x13;
export const PSBT_IN_TAP_BIP32_DERIVATION = 0x16;
export const PSBT_IN_TAP_MERKLE_ROOT = 0x18;
export const PSBT_OUT_BIP32_DERIVATION = 0x02;
export const PSBT_OUT_TAP_BIP32_DERIVATION = 0x07;

/** Rank of anything libwally keeps in its `unknowns` map (written last). */
const UNKNOWN = 1000;

const globalRank = (type: number): number => (type <= 0x01 ? type : type === PSBT_GLOBAL_VERSION ? 500 : UNKNOWN);

function inputRank(type: number): number {
  if (type <= 0x09) return type;
  if (type <= 0x0d) return 0x0a; // preimages share one wally map (insertion order)
  if (type >= 0x13 && type <= 0x18) return type;
  return UNKNOWN;
}

const outputRank = (type: number): number =>
  type <= 0x02 || (type >= 0x05 && type <= 0x07) ? type : UNKNOWN;

/** The key type of a record (first byte: every type BIP 174/371 defines is below 0xfd). */
export const keyType = (r: PsbtRecord): number => r.key[0]!;

/** The records of `map` with key type `type`. */
export const recordsOf = (map: readonly PsbtRecord[], type: number): PsbtRecord[] =>
  map.filter((r) => keyType(r) === type);

/** The single record with this exact key, if any. */
export function findRecord(map: readonly PsbtRecord[], key: Uint8Array): PsbtRecord | undefined {
  return map.find((r) => sameBytes(r.key, key));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** wally_map_add: appends, or does nothing if the key is present (ignore_dups). */
export function addRecord(map: PsbtRecord[], record: PsbtRecord): void {
  if (!findRecord(map, record.key)) map.push(record);
}

/** wally_psbt_input_set_*: replaces the value of an existing key, else appends. */
export function setRecord(map: PsbtRecord[], record: PsbtRecord): void {
  const at = map.findIndex((r) => sameBytes(r.key, record.key));
  if (at >= 0) map[at] = record;
  else map.push(record);
}

/** One map: records until the 0x00 separator; duplicate keys are invalid (BIP 174). */
function readMap(r: WireReader, what: string): PsbtRecord[] {
  const map: PsbtRecord[] = [];
  for (;;) {
    // libwally reads CompactSize without insisting on the shortest form.
    const keyLen = r.compactSize('any');
    if (keyLen === 0) return map;
    const key = r.bytes(keyLen);
    const value = r.compactBytes('any');
    if (findRecord(map, key)) throw new PsbtError(`duplicate key in ${what} map`);
    map.push({ key, value });
  }
}

/**
 * Parses a version 0 PSBT (what lightningd sends: towire_wally_psbt converts to v0); `curve`
 * checks the derivation records' keys as libwally has libsecp256k1 parse them.
 */
export function parsePsbt(bytes: Uint8Array, curve: PointCheck): Psbt {
  try {
    return readPsbtFields(new WireReader(bytes), curve);
  } catch (e) {
    if (e instanceof WireError) throw new PsbtError(`PSBT ${e.message}`);
    throw e;
  }
}

function readPsbtFields(r: WireReader, curve: PointCheck): Psbt {
  if (!sameBytes(r.bytes(5), MAGIC)) throw new PsbtError('not a PSBT (bad magic)');
  const global = readMap(r, 'global');
  const version = global.find((g) => keyType(g) === PSBT_GLOBAL_VERSION);
  if (version && version.value.some((b) => b !== 0)) throw new PsbtError('only PSBT version 0 is supported');
  const unsigned = global.find((g) => g.key.length === 1 && keyType(g) === PSBT_GLOBAL_UNSIGNED_TX);
  if (!unsigned) throw new PsbtError('PSBT v0 without an unsigned transaction');
  let tx: Tx;
  try {
    const read = readTx(unsigned.value, 0, 'any');
    tx = asVersion2Psbt(read.tx);
    // libwally keeps the transaction it read and writes that back: bytes after it are dropped.
    const written = writtenBack(read, tx);
    if (written) global[global.indexOf(unsigned)] = { key: unsigned.key, value: written };
    else if (read.end < unsigned.value.length) global[global.indexOf(unsigned)] = { key: unsigned.key, value: unsigned.value.slice(0, read.end) };
  } catch (e) {
    if (e instanceof PsbtError) throw e;
    throw new PsbtError(`bad unsigned transaction: ${(e as Error).message}`);
  }
  if (tx.inputs.some((i) => i.scriptSig.length > 0 || i.witness.length > 0))
    throw new PsbtError('unsigned transaction has scriptSigs or witnesses');
  const inputs = tx.inputs.map((_, k) => readMap(r, `input ${k}`));
  const outputs = tx.outputs.map((_, k) => readMap(r, `output ${k}`));
  // libwally stops after the last output map: bytes after it are ignored, not refused (docs/hsmd-protocol.md#field-encodings).
  const refused = libwallyRefuses(tx, global, inputs, outputs, curve);
  if (refused) throw new PsbtError(refused);
  writeAsLibwally(inputs, outputs);
  dropZeroSighashes(inputs);
  return { tx, global, inputs, outputs };
}

/*
 * CLN reads every PSBT into libwally's version 2 form and writes it back as version 0
 * (docs/hsmd-protocol.md "PSBT records libwally refuses"): a transaction version under 2 becomes
 * 2, for signing as in the reply; each input's previous-output index is written back with its
 * low 30 bits only (the two above are Elements flags), but matched and signed whole.
 */
const INDEX_BITS = 0x3fffffff;

/** `tx` as a version 2 PSBT holds it: its version at least 2. */
export const asVersion2Psbt = (tx: Tx): Tx => (tx.version < 2 ? { ...tx, version: 2 } : tx);

/**
 * The unsigned transaction's bytes as CLN writes `tx` back (every CompactSize in its shortest
 * form), or undefined if they are those `read` from.
 */
function writtenBack(read: { tx: Tx; canonical: boolean }, tx: Tx): Uint8Array | undefined {
  const cut = tx.inputs.some((i) => i.prevVout > INDEX_BITS);
  if (!cut && tx === read.tx && read.canonical) return undefined;
  return serializeTxNoWitness(cut ? { ...tx, inputs: tx.inputs.map((i) => ({ ...i, prevVout: i.prevVout & INDEX_BITS })) } : tx);
}

/** True if libwally treats the input as finalized (then it omits records 0x02..0x06). */
const isFinalized = (input: readonly PsbtRecord[]): boolean =>
  input.some((r) => keyType(r) === PSBT_IN_FINAL_SCRIPTSIG || keyType(r) === PSBT_IN_FINAL_SCRIPTWITNESS);

function writeMap(w: WireWriter, map: readonly PsbtRecord[], rank: (type: number) => number): void {
  const ordered = map
    .map((record, at) => ({ record, at, rank: rank(keyType(record)) }))
    .sort((a, b) => a.rank - b.rank || a.at - b.at);
  for (const { record } of ordered) {
    w.compactBytes(record.key);
    w.compactBytes(record.value);
  }
  w.u8(0x00);
}

/** Serializes as libwally's wally_psbt_to_bytes(psbt, 0) does for a version 0 PSBT. */
export function serializePsbt(psbt: Psbt): Uint8Array {
  const w = new WireWriter(1024);
  w.bytes(MAGIC);
  const global = psbt.global.filter((g) => keyType(g) !== PSBT_GLOBAL_VERSION);
  writeMap(w, global, globalRank);
  for (const input of psbt.inputs) {
    const kept = isFinalized(input) ? input.filter((r) => keyType(r) < 0x02 || keyType(r) > 0x06) : input;
    writeMap(w, kept, inputRank);
  }
  for (const output of psbt.outputs) writeMap(w, output, outputRank);
  return w.finish();
}

/** A record whose key is a type byte followed by `keyData`. */
export const record = (type: number, keyData: Uint8Array, value: Uint8Array): PsbtRecord => ({
  key: concat(Uint8Array.of(type), keyData),
  value,
});

/**
 * What libwally's PSBT parser (wally_psbt_from_bytes, flags 0, as CLN's fromwire_wally_psbt
 * calls it) refuses in a version 0 PSBT beyond its framing, so that a request CLN cannot parse
 * is a bad request here too (docs/hsmd-protocol.md "PSBT records libwally refuses"):
 *
 * - a record of a type BIP 174/370/371 defines whose key has bytes after the type, where the
 *   type takes no key data;
 * - a version 2 field (global 0x02..0x06, input 0x0e..0x12, output 0x03..0x04);
 * - a BIP 32 derivation whose key is no public key (33 or 65 bytes on the curve; x-only 32 for
 *   the taproot ones) or whose value is not a fingerprint and whole path elements;
 * - a witness UTXO that is not exactly an amount and a non-empty script, a non-witness UTXO
 *   that does not start with a transaction, and any amount above 21 million BTC (there and in
 *   the unsigned transaction);
 * - a sighash type other than 0 that is not the last byte of every partial signature;
 * - a record with an empty value, of any type, unknown ones included;
 * - a sighash type or version that is not 4 bytes, a taproot key signature not of 64 or 65
 *   bytes, a taproot internal key or merkle root not of 32;
 * - a partial signature not keyed by a public key, or whose value is not a DER signature (as
 *   libsecp256k1 parses DER) and a sighash byte;
 * - a global xpub that is not a serialized BIP 32 public key (xpub or tpub version, public key
 *   data) whose depth is the length of its path;
 * - a preimage whose key is not its hash;
 * - a taproot script signature not keyed by 64 bytes or not of 64 or 65, a taproot leaf script
 *   whose control block is not 33 bytes and at most 128 hashes of 32;
 * - a final script witness that is not a witness stack and nothing after it.
 *
 * Each check returns why it refuses, or undefined. `parseWallyTx` reads a `bitcoin_tx`'s own
 * transaction as libwally's wally_tx_from_bytes does (its amounts too).
 */
import { concat, equal, u32leAt } from '../bytes.js';
import { hasWitness, parseTx, parseTxOut, readTx, serializeTxNoWitness, type Tx } from '../bolt3/tx.js';
import type { Curve } from '../crypto/curve.js';
import { ripemd160, sha256 } from '../crypto/hashes.js';
import { curveY2, P } from '../crypto/secp256k1/field.js';
import { bytesToBigInt } from '../crypto/secp256k1/scalars.js';
import { hash160, sha256d } from '../crypto/signatures.js';
import { WireError } from '../wire/errors.js';
import { WireReader } from '../wire/reader.js';
import { WireWriter } from '../wire/writer.js';
import type { PsbtRecord } from './psbt.js';

/** The one curve operation these checks need. */
export type PointCheck = Pick<Curve, 'isCompressedPoint'>;

/** 21 million BTC in satoshi (libwally's WALLY_SATOSHI_MAX). */
const MAX_SATOSHI = 21_000_000n * 100_000_000n;

/** The types libwally knows in one kind of map, those that take key data, and those only version 2 has. */
interface MapRules {
  readonly known: (type: number) => boolean;
  readonly keyData: readonly number[];
  readonly v2Only: (type: number) => boolean;
}

const GLOBAL: MapRules = { known: (t) => t <= 0x06 || t === 0xfb, keyData: [0x01], v2Only: (t) => t >= 0x02 && t <= 0x06 };
const INPUT: MapRules = {
  known: (t) => t <= 0x18,
  keyData: [0x02, 0x06, 0x0a, 0x0b, 0x0c, 0x0d, 0x14, 0x15, 0x16],
  v2Only: (t) => t >= 0x0e && t <= 0x12,
};
const OUTPUT: MapRules = { known: (t) => t <= 0x07, keyData: [0x02, 0x07], v2Only: (t) => t === 0x03 || t === 0x04 };

function mapRule(map: readonly PsbtRecord[], rules: MapRules, what: string): string | undefined {
  for (const { key, value } of map) {
    const type = key[0]!;
    // libwally stores every value through wally_map_add, which takes no empty value.
    if (value.length === 0) return `${what} record 0x${hex2(type)} has an empty value`;
    if (!rules.known(type)) continue; // kept as an unknown record
    if (key.length > 1 && !rules.keyData.includes(type)) return `${what} record 0x${hex2(type)} has a key longer than its type`;
    if (rules.v2Only(type)) return `${what} record 0x${hex2(type)} is a PSBT version 2 field`;
  }
  return undefined;
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/**
 * libsecp256k1's ec_pubkey_parse: compressed (02/03) through the curve; uncompressed (04) or
 * hybrid (06/07, y's parity in the prefix) by y² = x³ + 7 directly (a product, no power or symbol).
 */
export function isPublicKey(key: Uint8Array, curve: PointCheck): boolean {
  if (key.length === 33) return curve.isCompressedPoint(key);
  if (key.length !== 65 || ![0x04, 0x06, 0x07].includes(key[0]!)) return false;
  const x = bytesToBigInt(key.subarray(1, 33));
  const y = bytesToBigInt(key.subarray(33));
  if (x >= P || y >= P || (y * y) % P !== curveY2(x)) return false;
  return key[0] === 0x04 || (key[0]! & 1) === Number(y & 1n);
}

/** An x-only key (BIP 340): the x of a curve point, i.e. 02 ‖ x parses. */
export function isXOnlyKey(key: Uint8Array, curve: PointCheck): boolean {
  return key.length === 32 && curve.isCompressedPoint(concat(Uint8Array.of(0x02), key));
}

/** A fingerprint and whole 4-byte path elements (libwally's keypath value check). */
const isOrigin = (value: Uint8Array): boolean => value.length >= 4 && value.length % 4 === 0;

/** BIP 32 derivation (input 0x06, output 0x02): wally_keypath_public_key_verify. */
function derivationRule(r: PsbtRecord, curve: PointCheck): string | undefined {
  if (!isPublicKey(r.key.subarray(1), curve)) return 'a BIP 32 derivation key is not a public key';
  return isOrigin(r.value) ? undefined : 'a BIP 32 derivation value is not a fingerprint and path';
}

/** Taproot BIP 32 derivation (input 0x16, output 0x07): libwally's pull_taproot_derivation. */
function tapDerivationRule(r: PsbtRecord, curve: PointCheck): string | undefined {
  if (!isXOnlyKey(r.key.subarray(1), curve)) return 'a taproot derivation key is not an x-only public key';
  try {
    const v = new WireReader(r.value);
    const hashes = v.compactSize('any');
    if (hashes > 128) return 'a taproot derivation has too many leaf hashes';
    v.bytes(hashes * 32);
    return isOrigin(v.bytes(v.remaining)) ? undefined : 'a taproot derivation value is not leaf hashes, a fingerprint and path';
  } catch {
    return 'a taproot derivation value is not leaf hashes, a fingerprint and path';
  }
}

/**
 * A DER length at `at` as libsecp256k1's DER parser reads it: the short form, or the long form
 * in its shortest encoding for 128 or more; the value must fit before `end`. [length, next] or undefined.
 */
function derLength(b: Uint8Array, at: number, end: number): [number, number] | undefined {
  if (at >= end) return undefined;
  const first = b[at++]!;
  if (first < 0x80) return first <= end - at ? [first, at] : undefined;
  const bytes = first & 0x7f;
  if (bytes === 0 || bytes > 4 || bytes > end - at || b[at] === 0) return undefined;
  let length = 0;
  for (let k = 0; k < bytes; k++) length = length * 256 + b[at++]!;
  return length >= 128 && length <= end - at ? [length, at] : undefined;
}

/** A DER INTEGER at `at`: not empty, no needless 0x00 or 0xff padding (its value, even a negative or too large one, is not judged). */
function derInteger(b: Uint8Array, at: number, end: number): number | undefined {
  if (b[at] !== 0x02 || at >= end) return undefined;
  const read = derLength(b, at + 1, end);
  if (!read || read[0] === 0) return undefined;
  const [length, start] = read;
  const [first, second] = [b[start]!, b[start + 1]! & 0x80];
  if (length > 1 && ((first === 0x00 && second === 0) || (first === 0xff && second !== 0))) return undefined;
  return start + length;
}

/** secp256k1_ecdsa_signature_parse_der's acceptance: SEQUENCE { INTEGER r, INTEGER s } filling `der` exactly. */
export function isDerSignature(der: Uint8Array): boolean {
  if (der[0] !== 0x30) return false;
  const sequence = derLength(der, 1, der.length);
  if (!sequence || sequence[1] + sequence[0] !== der.length) return false;
  const afterR = derInteger(der, sequence[1], der.length);
  return afterR !== undefined && derInteger(der, afterR, der.length) === der.length;
}

/** PSBT_IN_PARTIAL_SIG: keyed by a public key, a DER signature followed by its sighash byte. */
function partialSigRule(r: PsbtRecord, curve: PointCheck): string | undefined {
  if (!isPublicKey(r.key.subarray(1), curve)) return 'a partial signature is not keyed by a public key';
  return isDerSignature(r.value.subarray(0, r.value.length - 1)) ? undefined : 'a partial signature is not a DER signature and a sighash byte';
}

/** BIP 32 versions of a serialized extended public key, mainnet (xpub) and testnet (tpub). */
const XPUB_VERSIONS = [0x0488b21e, 0x043587cf];

/**
 * PSBT_GLOBAL_XPUB: a serialized BIP 32 public key (libwally reads its 33 key bytes without
 * parsing them as a point; a first byte of 0 is private key data) and a fingerprint and path as
 * long as its depth.
 */
function xpubRule(r: PsbtRecord): string | undefined {
  const key = r.key.subarray(1);
  if (key.length !== 78 || !XPUB_VERSIONS.includes(new DataView(key.buffer, key.byteOffset).getUint32(0)) || key[45] === 0)
    return 'a global xpub is not a serialized BIP 32 public key';
  return isOrigin(r.value) && (r.value.length - 4) / 4 === key[4] ? undefined : "a global xpub's path is not as long as its depth";
}

/** PSBT_IN_RIPEMD160, _SHA256, _HASH160, _HASH256 (0x0a..0x0d): keyed by the preimage's hash. */
const PREIMAGE_HASHES: ReadonlyArray<(data: Uint8Array) => Uint8Array> = [ripemd160, sha256, hash160, sha256d];
function preimageRule(r: PsbtRecord): string | undefined {
  return equal(PREIMAGE_HASHES[r.key[0]! - 0x0a]!(r.value), r.key.subarray(1)) ? undefined : 'a preimage is not keyed by its hash';
}

/** PSBT_IN_TAP_LEAF_SCRIPT: keyed by a control block of 33 bytes and at most 128 hashes of 32. */
function leafScriptRule(r: PsbtRecord): string | undefined {
  const control = r.key.length - 1;
  return control >= 33 && control <= 33 + 128 * 32 && (control - 33) % 32 === 0 ? undefined : 'a taproot leaf script control block is not 33 bytes and 32-byte hashes';
}

/** PSBT_IN_TAP_SCRIPT_SIG: keyed by an x-only key and a leaf hash (64 bytes, not parsed), a signature of 64 or 65. */
function tapScriptSigRule(r: PsbtRecord): string | undefined {
  if (r.key.length !== 65) return 'a taproot script signature is not keyed by a key and a leaf hash';
  return sizes('the taproot script signature', 64, 65)(r);
}

/** PSBT_IN_FINAL_SCRIPTWITNESS: a witness stack (a count, then that many items), nothing after it. */
function finalWitnessRule(r: PsbtRecord): string | undefined {
  try {
    const v = new WireReader(r.value);
    for (let items = v.compactSize('any'); items > 0; items--) v.compactBytes('any');
    if (v.remaining === 0) return undefined;
  } catch {
    // a count or an item longer than the value
  }
  return 'the final script witness is not a witness stack';
}

/** An amount above 21 million BTC among a transaction's outputs. */
function txAmountRule(tx: Tx): string | undefined {
  return tx.outputs.some((o) => o.amountSat > MAX_SATOSHI) ? 'an output amount is above 21 million BTC' : undefined;
}

/**
 * The transaction of a `bitcoin_tx` as CLN reads it (bitcoin/tx.c pull_wtx, libwally's
 * wally_tx_from_bytes): in Bitcoin Core's form (parseTx), and no output amount above 21 million
 * BTC, which libwally refuses as it reads each output, so CLN cannot parse the request
 * (docs/hsmd-protocol.md "PSBT records libwally refuses"). WireError otherwise.
 */
export function parseWallyTx(bytes: Uint8Array): Tx {
  const tx = parseTx(bytes);
  const refused = txAmountRule(tx);
  if (refused !== undefined) throw new WireError(refused);
  return tx;
}

/** PSBT_IN_WITNESS_UTXO: u64 amount ‖ CompactSize script, nothing after, the script not empty. */
function witnessUtxoRule(value: Uint8Array): string | undefined {
  try {
    const { amountSat, scriptPubKey } = parseTxOut(value, 'any');
    if (scriptPubKey.length === 0) return 'the witness UTXO is not an amount and a script';
    return amountSat > MAX_SATOSHI ? 'the witness UTXO amount is above 21 million BTC' : undefined;
  } catch {
    return 'the witness UTXO is not an amount and a script';
  }
}

/** PSBT_IN_NON_WITNESS_UTXO: a transaction (bytes after it are ignored), its amounts at most 21 million BTC. */
function nonWitnessUtxoRule(value: Uint8Array): string | undefined {
  try {
    return txAmountRule(readTx(value, 0, 'any').tx);
  } catch {
    return 'the non-witness UTXO is not a transaction';
  }
}

/**
 * libwally keeps some records as what it parsed and writes that back: a non-witness UTXO as its
 * transaction without witnesses or bytes after it, and every CompactSize inside a non-witness
 * UTXO, a witness UTXO, a final script witness or a taproot derivation in its shortest form.
 * Each record here passed the checks above; one that reads back the same is left as it is.
 */
export function writeAsLibwally(inputs: PsbtRecord[][], outputs: PsbtRecord[][]): void {
  for (const map of inputs) rewrite(map, INPUT_REWRITES);
  for (const map of outputs) rewrite(map, OUTPUT_REWRITES);
}

/** A record's value as libwally writes it back, or undefined if that is the value itself. */
type Rewrite = (value: Uint8Array) => Uint8Array | undefined;

function rewrite(map: PsbtRecord[], rewrites: ReadonlyMap<number, Rewrite>): void {
  map.forEach((r, at) => {
    const value = rewrites.get(r.key[0]!)?.(r.value);
    if (value) map[at] = { key: r.key, value };
  });
}

const nonWitnessUtxo: Rewrite = (value) => {
  const { tx, end, canonical } = readTx(value, 0, 'any');
  return end < value.length || !canonical || hasWitness(tx) ? serializeTxNoWitness(tx) : undefined;
};

/**
 * Re-encodes what `copy` reads from a value with every CompactSize in its shortest form, if
 * one was not: a first read only looks, a second writes.
 */
const shortest = (copy: (r: WireReader, w?: WireWriter) => void): Rewrite => (value) => {
  const look = new WireReader(value);
  copy(look);
  if (!look.nonCanonical) return undefined;
  const w = new WireWriter(value.length);
  copy(new WireReader(value), w);
  return w.finish();
};

const witnessUtxo = shortest((r, w) => {
  const amount = r.u64le();
  const script = r.compactBytes('any');
  w?.u64le(amount);
  w?.compactBytes(script);
});
const witnessStack = shortest((r, w) => {
  const items = r.compactSize('any');
  w?.compactSize(items);
  for (let k = 0; k < items; k++) {
    const item = r.compactBytes('any');
    w?.compactBytes(item);
  }
});
const tapDerivation = shortest((r, w) => {
  const hashes = r.compactSize('any');
  const rest = r.bytes(r.remaining);
  w?.compactSize(hashes);
  w?.bytes(rest);
});

const INPUT_REWRITES: ReadonlyMap<number, Rewrite> = new Map([
  [0x00, nonWitnessUtxo],
  [0x01, witnessUtxo],
  [0x08, witnessStack],
  [0x16, tapDerivation],
]);
const OUTPUT_REWRITES: ReadonlyMap<number, Rewrite> = new Map([[0x07, tapDerivation]]);

const sizes = (what: string, ...lengths: number[]) => (r: PsbtRecord): string | undefined =>
  lengths.includes(r.value.length) ? undefined : `${what} is not of ${lengths.join(' or ')} bytes`;

/** A value check of one record type; the curve for the ones with keys. */
type ValueRule = (r: PsbtRecord, curve: PointCheck) => string | undefined;

const GLOBAL_VALUES: ReadonlyMap<number, ValueRule> = new Map([
  [0x01, xpubRule],
  [0xfb, sizes('the PSBT version', 4)],
]);
const INPUT_VALUES: ReadonlyMap<number, ValueRule> = new Map([
  [0x00, (r: PsbtRecord) => nonWitnessUtxoRule(r.value)],
  [0x01, (r: PsbtRecord) => witnessUtxoRule(r.value)],
  [0x02, partialSigRule],
  [0x03, sizes('the sighash type', 4)],
  [0x06, derivationRule],
  [0x08, finalWitnessRule],
  [0x0a, preimageRule],
  [0x0b, preimageRule],
  [0x0c, preimageRule],
  [0x0d, preimageRule],
  [0x13, sizes('the taproot key signature', 64, 65)],
  [0x14, tapScriptSigRule],
  [0x15, leafScriptRule],
  [0x16, tapDerivationRule],
  [0x17, sizes('the taproot internal key', 32)],
  [0x18, sizes('the taproot merkle root', 32)],
]);
const OUTPUT_VALUES: ReadonlyMap<number, ValueRule> = new Map([
  [0x02, derivationRule],
  [0x05, sizes('the taproot internal key', 32)],
  [0x07, tapDerivationRule],
]);

function valueRule(map: readonly PsbtRecord[], rules: ReadonlyMap<number, ValueRule>, what: string, curve: PointCheck): string | undefined {
  for (const r of map) {
    const why = rules.get(r.key[0]!)?.(r, curve);
    if (why) return `${what}: ${why}`;
  }
  return undefined;
}

const isSighashRecord = (r: PsbtRecord): boolean => r.key.length === 1 && r.key[0] === 0x03;

/** wally_psbt_input_set_sighash: a sighash type other than 0 must be the last byte of every partial signature. */
function sighashRule(input: readonly PsbtRecord[]): string | undefined {
  const record = input.find(isSighashRecord);
  const sighash = record ? u32leAt(record.value) : 0;
  if (sighash === 0) return undefined;
  const differs = input.some((r) => r.key[0] === 0x02 && r.value[r.value.length - 1] !== sighash);
  return differs ? 'a partial signature is not of the input\'s sighash type' : undefined;
}

/**
 * libwally keeps the sighash type as a number, 0 meaning none (the default type), and writes it
 * back only when it is not 0: a sighash record of 0 is dropped (each passed its 4-byte check).
 */
export function dropZeroSighashes(inputs: PsbtRecord[][]): void {
  for (const input of inputs) {
    const at = input.findIndex(isSighashRecord);
    if (at >= 0 && u32leAt(input[at]!.value) === 0) input.splice(at, 1);
  }
}

/** The first thing libwally refuses in these maps (the unsigned transaction already read), or undefined. */
export function libwallyRefuses(
  tx: Tx,
  global: readonly PsbtRecord[],
  inputs: readonly PsbtRecord[][],
  outputs: readonly PsbtRecord[][],
  curve: PointCheck,
): string | undefined {
  const txWhy = txAmountRule(tx);
  if (txWhy) return `unsigned transaction: ${txWhy}`;
  return (
    mapRule(global, GLOBAL, 'global') ??
    valueRule(global, GLOBAL_VALUES, 'global', curve) ??
    firstOf(inputs, (m, k) => mapRule(m, INPUT, `input ${k}`) ?? valueRule(m, INPUT_VALUES, `input ${k}`, curve) ?? sighashRule(m)) ??
    firstOf(outputs, (m, k) => mapRule(m, OUTPUT, `output ${k}`) ?? valueRule(m, OUTPUT_VALUES, `output ${k}`, curve))
  );
}

function firstOf<T>(items: readonly T[], check: (item: T, k: number) => string | undefined): string | undefined {
  for (let k = 0; k < items.length; k++) {
    const why = check(items[k]!, k);
    if (why) return why;
  }
  return undefined;
}

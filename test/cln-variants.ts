/**
 * Requests the recordings do not hold, for the differential lane: recorded requests decoded
 * with the wire codec, a field changed, encoded again (or built from the message table).
 * Keys and points come from @noble/curves (independent of the signer), wallet keys from the
 * init reply's xpubs by BIP 32 public derivation, so `check_pubkey` gets keys CLN accepts.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import type { Psbt } from 'bitcoinjs-lib';
import fc from 'fast-check';
import { SEED } from '../property-tests/settings.js';
import { type HsmdMessage, decodeAs, decodeMessage, encodeHsmdMessage, encodeMessage } from '../signer/wire/messages.js';
import type { Exchange } from './transcript.js';

const Point = secp256k1.Point;
const ORDER = Point.Fn.ORDER;

/** n values of `arb`, the same on every run of the suite's seed (property-tests/settings.ts). */
export const sample = <T>(arb: fc.Arbitrary<T>, n: number): T[] => fc.sample(arb, { seed: SEED, numRuns: n });

/** A compressed point k·G for a random k: another node, another ECDH point. */
export const point = fc.bigInt({ min: 1n, max: ORDER - 1n }).map((k) => Point.BASE.multiply(k).toBytes(true));
/** 33 bytes that are no point on the curve (an x with no y). */
export const notAPoint = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((x) => {
  try {
    Point.fromBytes(Uint8Array.of(2, ...x));
    return false;
  } catch {
    return true;
  }
}).map((x) => Uint8Array.of(2, ...x));
export const bytes = (max: number, min = 0): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: min, maxLength: max });
export const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
/** A dbid for a client connection: never 0 (CLN keeps only three dbid-0 clients). */
export const dbid = fc.oneof(fc.bigInt({ min: 2n, max: 1000n }), fc.bigInt({ min: 1001n, max: (1n << 64n) - 1n }));

/** One recorded request, decoded: the first of its type, or the one at `seq`. */
export function recorded<N extends HsmdMessage['name']>(exchanges: readonly Exchange[], name: N, seq?: number): Extract<HsmdMessage, { name: N }> {
  const ex = exchanges.find((e) => (seq === undefined || e.seq === seq) && decodeMessage(Buffer.from(e.req, 'hex')).name === name);
  if (!ex) throw new Error(`no recorded ${name}${seq === undefined ? '' : ` at seq ${seq}`}`);
  return decodeMessage(Buffer.from(ex.req, 'hex')) as Extract<HsmdMessage, { name: N }>;
}

/** The recorded request with `changes` applied, encoded again. */
export const changed = <M extends HsmdMessage>(base: M, changes: Partial<M>): Uint8Array => encodeHsmdMessage({ ...base, ...changes });

/** BIP 32 public derivation (non-hardened) from a 78-byte ext_key: the key at base/path. */
export function childPubkey(extKey: Uint8Array, path: number[]): Uint8Array {
  let chainCode = extKey.slice(13, 45);
  let key = extKey.slice(45, 78);
  for (const index of path) {
    const data = new Uint8Array(37);
    data.set(key);
    new DataView(data.buffer).setUint32(33, index);
    const i = hmac(sha512, chainCode, data);
    const tweak = BigInt('0x' + Buffer.from(i.slice(0, 32)).toString('hex'));
    key = Point.fromBytes(key).add(Point.BASE.multiply(tweak)).toBytes(true);
    chainCode = i.slice(32);
  }
  return key;
}

/** The wallet's xpub (m/0/0) and, for a mnemonic secret, the BIP 86 base from an init reply. */
export function initKeys(initReply: string): { bip32: Uint8Array; bip86?: Uint8Array } {
  const reply = decodeAs('hsmd_init_reply_v4', Buffer.from(initReply, 'hex'));
  return reply.tlvs.bip86_base ? { bip32: reply.bip32, bip86: reply.tlvs.bip86_base } : { bip32: reply.bip32 };
}

/** An index below 2^31 (a BIP 32 wallet index), mostly small as lightningd's are. */
export const walletIndex = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 0x7fffffff }));

/** Text in a wirestring: any bytes but NUL, as fast-check's strings give (ASCII, then Unicode). */
const text = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 8 })).filter((s) => !s.includes('\0'));

/** sign_bolt12 and sign_bolt12_2: names, merkle root, tweak (empty: the node key). */
export const bolt12Requests = fc.oneof(
  fc.record({ messagename: text, fieldname: text, merkleroot: bytes(32, 32), publictweak: fc.oneof(fc.constant(new Uint8Array()), bytes(40, 1)) })
    .map((f) => encodeMessage('hsmd_sign_bolt12', f)),
  fc.record({ messagename: text, fieldname: text, merkleroot: bytes(32, 32), info: bytes(40), publictweak: fc.oneof(fc.constant(new Uint8Array()), bytes(40, 1)) })
    .map((f) => encodeMessage('hsmd_sign_bolt12_2', f)),
);

/** sign_invoice: 5-bit data (and, some of the time, bytes above 31) with an hrp of any bytes. */
export const invoiceRequests = fc.record({
  u5bytes: fc.oneof(fc.uint8Array({ max: 31, maxLength: 400 }), fc.uint8Array({ maxLength: 60 })),
  hrp: fc.oneof(fc.constantFrom('lnbcrt', 'lnbc10u', 'lntb', 'lno').map((s) => Buffer.from(s)), bytes(12)),
}).map((f) => encodeMessage('hsmd_sign_invoice', f));

const G = Uint8Array.from(Point.BASE.toBytes(true));
const TYPES = { global: [0x01, 0x02, 0x06, 0x07, 0xfb, 0xfc, 0xf0], input: [...Array(0x1a).keys()].slice(2).concat([0xfc, 0xf0]), output: [...Array(9).keys()].concat([0xfc]) };
type MapName = keyof typeof TYPES;

/**
 * A record of any type a version 0 PSBT map may hold (and a few above them), for the first input
 * or output or the global map: key data and values of the lengths the types take (a point, an
 * x-only key, a control block, a DER signature, a witness stack) and of any other.
 */
export const psbtRecord = fc.constantFrom<MapName>('global', 'input', 'output').chain((where) =>
  fc.record({
    where: fc.constant(where),
    type: fc.constantFrom(...TYPES[where]),
    keyData: fc.oneof(fc.constant(new Uint8Array(0)), fc.constant(G), fc.constant(G.subarray(1)), fc.constant(Uint8Array.of(0xc0, ...G.subarray(1))), bytes(80, 1)),
    value: fc.oneof(fc.constant(new Uint8Array(0)), fc.constant(Uint8Array.from(Buffer.from('3006020101020101' + '01', 'hex'))), fc.constant(Uint8Array.of(0x01, 0x01, 0xff)), bytes(100, 1)),
  }));

/** Puts `r` into a bitcoinjs-lib PSBT raw, as its unknown records go (unchecked), in place of any record with its key. */
export function putRecord(p: Psbt, r: { where: MapName; type: number; keyData: Uint8Array; value: Uint8Array }): void {
  const map = r.where === 'global' ? p.data.globalMap : r.where === 'input' ? p.data.inputs[0]! : p.data.outputs[0]!;
  const key = Buffer.from([r.type, ...r.keyData]);
  map.unknownKeyVals = [...(map.unknownKeyVals ?? []).filter((kv) => !key.equals(kv.key)), { key, value: Buffer.from(r.value) }];
}

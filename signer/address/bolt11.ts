/**
 * What the payment limits need of a BOLT 11 invoice: its amount, payment hash and payee.
 * The payee is the `n` field if present, else the key recovered from the invoice's signature
 * over hash_u5(hrp, data) (BOLT 11 "Requirements"), with the signer's Curve (no curve module
 * of its own: the device builds its curve after boot). Pure; throws Bolt11Error.
 */
import { utf8 } from '../bytes.js';
import type { Curve } from '../crypto/curve.js';
import { invert } from '../crypto/secp256k1/field.js';
import { bytesToBigInt as toBig, fromScalar as toBytes32, N } from '../crypto/secp256k1/scalars.js';
import { hashU5 } from '../handlers/hash-u5.js';
import { bech32Decode, wordsToBytes } from './bech32.js';

export class Bolt11Error extends Error {
  override readonly name = 'Bolt11Error';
}

export interface Bolt11Summary {
  /** Undefined for an invoice without an amount (the payer chooses it). */
  readonly amountMsat: bigint | undefined;
  readonly paymentHash: Uint8Array;
  /** 33-byte node id. */
  readonly payee: Uint8Array;
}

/** msat per unit of each multiplier (1 BTC = 10^11 msat), p in tenths of a msat. */
const MSAT_PER: Record<string, bigint> = { m: 100_000_000n, u: 100_000n, n: 100n };
const SIGNATURE_WORDS = 104; // 65 bytes
const TIMESTAMP_WORDS = 7;
const TAG_PAYMENT_HASH = 1;
const TAG_PAYEE = 19;

function amountOf(digits: string | undefined, multiplier: string | undefined): bigint | undefined {
  if (digits === undefined) {
    if (multiplier !== undefined) throw new Bolt11Error('a multiplier without an amount');
    return undefined;
  }
  const n = BigInt(digits);
  if (multiplier === undefined) return n * 100_000_000_000n;
  if (multiplier === 'p') {
    if (n % 10n !== 0n) throw new Bolt11Error('a pico-bitcoin amount that is not a whole msat');
    return n / 10n;
  }
  return n * MSAT_PER[multiplier]!;
}

/** The fields read without any curve arithmetic; `payee` only if the invoice has an `n` field. */
export interface Bolt11Fields {
  readonly amountMsat: bigint | undefined;
  readonly paymentHash: Uint8Array;
  readonly payee: Uint8Array | undefined;
  /** 64-byte compact signature, its recovery id, and the hash it signs. */
  readonly signature: Uint8Array;
  readonly recovery: number;
  readonly signingHash: Uint8Array;
}

export function readBolt11(invoice: string): Bolt11Fields {
  let decoded;
  try {
    decoded = bech32Decode(invoice, Number.MAX_SAFE_INTEGER);
  } catch (e) {
    throw new Bolt11Error(`not a bech32 invoice: ${(e as Error).message}`);
  }
  const { hrp, words } = decoded;
  // The pattern is written here, not kept in a module-level constant: docs/device-memory.md "Regular expressions in flash".
  const m = /^ln(bcrt|bc|tbs|tb)(\d+)?([munp])?$/.exec(hrp);
  if (!m) throw new Bolt11Error(`human-readable part ${JSON.stringify(hrp)} is not ln<currency>[amount]`);
  const amountMsat = amountOf(m[2], m[3]);
  if (words.length < TIMESTAMP_WORDS + SIGNATURE_WORDS) throw new Bolt11Error('too short for a timestamp and a signature');
  const data = words.subarray(0, words.length - SIGNATURE_WORDS);
  let paymentHash: Uint8Array | undefined;
  let payee: Uint8Array | undefined;
  for (let at = TIMESTAMP_WORDS; at < data.length; ) {
    if (at + 3 > data.length) throw new Bolt11Error('truncated tagged field');
    const tag = data[at]!;
    const length = data[at + 1]! * 32 + data[at + 2]!;
    const field = data.subarray(at + 3, at + 3 + length);
    if (field.length !== length) throw new Bolt11Error('truncated tagged field');
    // BOLT 11: a reader skips p and n fields of the wrong length (and keeps the first good one).
    if (tag === TAG_PAYMENT_HASH && length === 52 && !paymentHash) paymentHash = wordsToBytes(field, false).subarray(0, 32);
    if (tag === TAG_PAYEE && length === 53 && !payee) payee = wordsToBytes(field, false).subarray(0, 33);
    at += 3 + length;
  }
  if (!paymentHash) throw new Bolt11Error('no payment hash (p field)');
  const sig = wordsToBytes(words.subarray(words.length - SIGNATURE_WORDS));
  return { amountMsat, paymentHash, payee, signature: sig.subarray(0, 64), recovery: sig[64]!, signingHash: hashU5(utf8(hrp), data) };
}

/** Amount, payment hash and payee (recovered from the signature when there is no `n` field). */
export function summarizeBolt11(curve: Curve, invoice: string): Bolt11Summary {
  const f = readBolt11(invoice);
  return { amountMsat: f.amountMsat, paymentHash: f.paymentHash, payee: f.payee ?? recoverKey(curve, f.signature, f.recovery, f.signingHash) };
}

/**
 * ECDSA public key recovery (SEC 1 §4.1.6): R from r and the recovery id's parity, then
 * Q = r⁻¹(sR − eG) = u1·G + u2·R with u1 = −e·r⁻¹, u2 = s·r⁻¹ (mod n). An id with bit 1 set
 * (R.x ≥ n: odds about 2⁻¹²⁸) is refused.
 */
function recoverKey(curve: Curve, signature: Uint8Array, recovery: number, hash: Uint8Array): Uint8Array {
  const [r, s, e] = [toBig(signature.subarray(0, 32)), toBig(signature.subarray(32, 64)), toBig(hash) % N];
  if (recovery > 1 || r === 0n || r >= N || s === 0n || s >= N) throw new Bolt11Error(`signature cannot be recovered (recovery id ${recovery})`);
  const rInv = invert(r, N); // extended Euclid: r is public, no need for a constant-time r^(n-2)
  const u1 = (((N - e) % N) * rInv) % N;
  const u2 = (s * rInv) % N;
  try {
    const R = Uint8Array.of(recovery & 1 ? 0x03 : 0x02, ...signature.subarray(0, 32));
    const sR = curve.pointMul(R, toBytes32(u2));
    return u1 === 0n ? sR : curve.pointAdd(curve.publicKey(toBytes32(u1)), sR);
  } catch (e) {
    throw new Bolt11Error(`signature does not recover a key: ${(e as Error).message}`);
  }
}

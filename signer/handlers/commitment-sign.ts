/**
 * How hsmd signs commitment and HTLC transactions (libhsmd.c handle_sign_remote_commitment_tx,
 * handle_sign_commitment_tx, handle_sign_remote_htlc_tx), and the request digests the
 * retry rules compare.
 *
 * bitcoin/signature.c sign_tx_input: BIP 143 sighash of input `in` over the witness script,
 * with the input amount from the PSBT (bitcoin_tx_hash_for_sig → psbt_input_get_amount),
 * signed by sign_hash (low-R grind: signLowR).
 */
import { u64be } from '../bytes.js';
import { WireWriter } from '../wire/writer.js';
import { sha256, signLowR } from '../crypto/signatures.js';
import type { Curve } from '../crypto/curve.js';
import { fundingScript } from '../bolt3/scripts.js';
import { SIGHASH_ALL, witnessV0Sighash } from '../bolt3/sighash.js';
import type { Tx } from '../bolt3/tx.js';
import type { BitcoinSignature } from '../wire/fields.js';
import type { BitcoinTx } from '../wire/tx-fields.js';
import { parseWallyTx } from '../psbt/libwally-rules.js';
import { parsePsbt, PsbtError } from '../psbt/psbt.js';
import { spentOutput } from '../psbt/sign.js';

/** A bitcoin_tx parsed for signing its input 0, or why it cannot be. */
export type SpendingTx = { readonly ok: true; readonly tx: Tx; readonly amountSat: bigint } | { readonly ok: false; readonly why: string };

/**
 * Parses the transaction and the PSBT amount of input 0. CLN's own sanity checks of
 * commitments come first (libhsmd.c: "tx must have 1 input", "tx must have > 0 outputs").
 */
export function spendingTx(btx: BitcoinTx, commitment: boolean, curve: Curve): SpendingTx {
  let tx: Tx;
  try {
    tx = parseWallyTx(btx.tx);
  } catch (e) {
    return { ok: false, why: `malformed tx: ${(e as Error).message}` };
  }
  if (commitment && tx.inputs.length !== 1) return { ok: false, why: 'tx must have 1 input' };
  if (commitment && tx.outputs.length === 0) return { ok: false, why: 'tx must have > 0 outputs' };
  if (tx.inputs.length === 0) return { ok: false, why: 'tx has no input 0' };
  // bitcoin_tx_hash_for_sig: psbt_input_get_amount(tx->psbt, 0) (bitcoin/psbt.c).
  try {
    const psbt = parsePsbt(btx.psbt, curve);
    const spent = psbt.inputs.length > 0 ? spentOutput(psbt, 0) : undefined;
    if (spent === undefined) return { ok: false, why: 'malformed psbt: input 0 has no amount' };
    return { ok: true, tx, amountSat: spent.amountSat };
  } catch (e) {
    if (e instanceof PsbtError) return { ok: false, why: `malformed psbt: ${e.message}` };
    throw e;
  }
}

/** sign_tx_input(tx, 0, NULL, wscript, privkey, …, sighashType) then sign_hash. */
export function signInput0(
  curve: Curve,
  s: { readonly tx: Tx; readonly amountSat: bigint },
  witnessScript: Uint8Array,
  privkey: Uint8Array,
  sighash: number,
): BitcoinSignature {
  const hash = witnessV0Sighash(s.tx, 0, witnessScript, s.amountSat, sighash);
  return { signature: signLowR(curve, hash, privkey), sighash };
}

/**
 * The funding input's signature: bitcoin_redeem_2of2(local, remote) (BOLT 3 funding
 * output script, keys sorted), SIGHASH_ALL, our funding key.
 */
export const signFundingInput = (
  curve: Curve,
  s: { readonly tx: Tx; readonly amountSat: bigint },
  localFunding: { readonly priv: Uint8Array; readonly pub: Uint8Array },
  remoteFundingPubkey: Uint8Array,
): BitcoinSignature => signInput0(curve, s, fundingScript(localFunding.pub, remoteFundingPubkey), localFunding.priv, SIGHASH_ALL);

/** Verifies the peer's signature on our funding input (validate_commitment_tx). */
export function verifyFundingInput(
  curve: Curve,
  s: { readonly tx: Tx; readonly amountSat: bigint },
  localFundingPubkey: Uint8Array,
  remoteFundingPubkey: Uint8Array,
  sig: BitcoinSignature,
): boolean {
  const hash = witnessV0Sighash(s.tx, 0, fundingScript(localFundingPubkey, remoteFundingPubkey), s.amountSat, sig.sighash);
  return sig.sighash === SIGHASH_ALL && curve.verify(sig.signature, hash, remoteFundingPubkey);
}

/**
 * Retry identity of a commitment request: the funding outpoint it spends (txid ‖ u32 LE
 * vout, 36 bytes), then SHA256 over the transaction, the funding amount (what the PSBT
 * contributes to the signature) and the request's other fields, each length-prefixed.
 * The outpoint comes first so that commitments of one number for different funding
 * transactions (a splice in flight: channeld signs and validates one per funding, BOLT 2)
 * are told apart from a retry (commitment-rules.ts conflictsWith).
 */
export function requestDigest(tx: Tx, txBytes: Uint8Array, amountSat: bigint, ...fields: Uint8Array[]): Uint8Array {
  const input = tx.inputs[0]!;
  const parts = [txBytes, u64be(amountSat), ...fields];
  const hashed = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
  const view = new DataView(hashed.buffer);
  let at = 0;
  for (const p of parts) {
    view.setUint32(at, p.length, true);
    hashed.set(p, at + 4);
    at += 4 + p.length;
  }
  const digest = new Uint8Array(DIGEST_FUNDING_BYTES + 32);
  digest.set(input.prevTxid);
  new DataView(digest.buffer).setUint32(32, input.prevVout, true);
  digest.set(sha256(hashed), DIGEST_FUNDING_BYTES);
  return digest;
}

/** Length of the funding-outpoint prefix of a requestDigest. */
export const DIGEST_FUNDING_BYTES = 36;

/** The fields of hsm_htlc entries and a feerate, as bytes for `requestDigest`. */
export function htlcFieldsBytes(htlcs: readonly { side: number; amount: bigint; payment_hash: Uint8Array; cltv_expiry: number }[], feerate: number): Uint8Array {
  const w = new WireWriter(45 * htlcs.length + 4);
  for (const h of htlcs) {
    w.u8(h.side);
    w.u64(h.amount);
    w.bytes(h.payment_hash);
    w.u32le(h.cltv_expiry);
  }
  w.u32le(feerate);
  return w.finish();
}

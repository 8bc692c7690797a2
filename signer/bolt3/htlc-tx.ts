/**
 * BOLT 3 HTLC-Timeout and HTLC-Success transactions (second stage of the owner's HTLC
 * outputs), their sighash types and witnesses (CLN common/htlc_tx.c, bitcoin/script.c).
 */
import type { Commitment, CommitmentHtlc } from './commitment.js';
import { hasAnchors, htlcSuccessFeeSat, htlcTimeoutFeeSat, type CommitmentFormat } from './fees.js';
import { p2wsh, toLocalScript } from './scripts.js';
import { SIGHASH_ALL, SIGHASH_ANYONECANPAY, SIGHASH_SINGLE } from './sighash.js';
import { txid, type Tx } from './tx.js';

export interface HtlcTxParams {
  format: CommitmentFormat;
  /** Txid (wire order) of the commitment and the index of the HTLC output being spent. */
  commitmentTxid: Uint8Array;
  outputIndex: number;
  htlc: CommitmentHtlc;
  feeratePerKw: number;
  toSelfDelay: number;
  revocationPubkey: Uint8Array;
  localDelayedPubkey: Uint8Array;
}

/**
 * An unsigned HTLC-timeout (offered HTLC) or HTLC-success (received HTLC) transaction.
 * Throws if the fee exceeds the HTLC amount (such an HTLC is trimmed, so never spent this way).
 */
export function buildHtlcTx(p: HtlcTxParams): Tx {
  return htlcTx(p, p2wsh(toLocalScript(p.revocationPubkey, p.toSelfDelay, p.localDelayedPubkey)));
}

/** buildHtlcTx with the output's scriptPubKey (the same for every HTLC tx of a commitment) given. */
function htlcTx(p: HtlcTxParams, scriptPubKey: Uint8Array): Tx {
  const fee = p.htlc.offered ? htlcTimeoutFeeSat(p.format, p.feeratePerKw) : htlcSuccessFeeSat(p.format, p.feeratePerKw);
  // "amount: the HTLC `amount_msat` divided by 1000 (rounding down) minus fees"
  const amountSat = p.htlc.amountMsat / 1000n - fee;
  if (amountSat < 0n) throw new RangeError('HTLC amount below its HTLC transaction fee');
  return {
    version: 2,
    // "locktime: `0` for HTLC-success, `cltv_expiry` for HTLC-timeout"
    locktime: p.htlc.offered ? p.htlc.cltvExpiry : 0,
    inputs: [
      {
        prevTxid: p.commitmentTxid,
        prevVout: p.outputIndex,
        scriptSig: new Uint8Array(0),
        // "`txin[0]` sequence: `0` (set to `1` for `option_anchors`)"
        sequence: hasAnchors(p.format) ? 1 : 0,
        witness: [],
      },
    ],
    // "`txout[0]` script: version-0 P2WSH with witness script as shown below"
    outputs: [{ amountSat, scriptPubKey }],
  };
}

/** One HTLC transaction of a commitment, with what is needed to sign it. */
export interface CommitmentHtlcTx {
  tx: Tx;
  htlc: CommitmentHtlc;
  htlcIndex: number;
  /** The commitment output it spends: its index, amount and witness script (the scriptCode). */
  outputIndex: number;
  amountSat: bigint;
  witnessScript: Uint8Array;
}

/**
 * The HTLC transactions of a commitment, in commitment output order: the order of
 * `htlc_signatures` in commitment_signed (BOLT 2) and of CLN's htlcmap.
 */
export function buildHtlcTxs(
  commitment: Commitment,
  p: Omit<HtlcTxParams, 'commitmentTxid' | 'outputIndex' | 'htlc'>,
): CommitmentHtlcTx[] {
  const commitmentTxid = txid(commitment.tx);
  const scriptPubKey = p2wsh(toLocalScript(p.revocationPubkey, p.toSelfDelay, p.localDelayedPubkey));
  const out: CommitmentHtlcTx[] = [];
  commitment.outputs.forEach((info, outputIndex) => {
    if (info.kind !== 'htlc') return;
    out.push({
      tx: htlcTx({ ...p, commitmentTxid, outputIndex, htlc: info.htlc }, scriptPubKey),
      htlc: info.htlc,
      htlcIndex: info.htlcIndex,
      outputIndex,
      amountSat: commitment.tx.outputs[outputIndex]!.amountSat,
      witnessScript: info.witnessScript,
    });
  });
  return out;
}

/**
 * Sighash type of the peer's signature on the owner's HTLC transaction: with anchors,
 * SIGHASH_SINGLE|SIGHASH_ANYONECANPAY (BOLT 3, BOLT 5 "Generation of HTLC Transactions")
 * so the owner can add fee inputs and outputs; otherwise SIGHASH_ALL. The owner's own
 * signature is always SIGHASH_ALL.
 */
export const remoteHtlcSighashType = (format: CommitmentFormat): number =>
  hasAnchors(format) ? SIGHASH_SINGLE | SIGHASH_ANYONECANPAY : SIGHASH_ALL;

/**
 * BOLT 3 `txin[0]` witness stack: `0 <remotehtlcsig> <localhtlcsig> <payment_preimage>` for
 * HTLC-success, `0 <remotehtlcsig> <localhtlcsig> <>` for HTLC-timeout, then the script.
 * Signatures are witness items (DER ‖ sighash byte); no preimage means HTLC-timeout.
 */
export function htlcTxWitness(
  remoteSignature: Uint8Array,
  localSignature: Uint8Array,
  paymentPreimage: Uint8Array | undefined,
  witnessScript: Uint8Array,
): Uint8Array[] {
  return [new Uint8Array(0), remoteSignature, localSignature, paymentPreimage ?? new Uint8Array(0), witnessScript];
}

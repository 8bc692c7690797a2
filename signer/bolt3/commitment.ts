/**
 * BOLT 3 commitment transactions, built as BOLT 3 "Commitment Transaction Construction"
 * lists the steps and as CLN's channeld/commit_tx.c does them.
 *
 * "Local" is the owner of the commitment (the side that would broadcast it), as in BOLT 3;
 * to build the peer's commitment, pass the peer as local. Keys come already derived for
 * this commitment (signer/keys does that).
 */
import { sha256 } from '../crypto/hashes.js';
import { concat } from '../bytes.js';
import {
  ANCHOR_OUTPUT_SAT,
  commitmentFeeSat,
  hasAnchors,
  isHtlcTrimmed,
  type CommitmentFormat,
} from './fees.js';
import {
  anchorScript,
  compareBytes,
  fundingScript,
  offeredHtlcScript,
  p2wpkh,
  p2wsh,
  receivedHtlcScript,
  toLocalScript,
  toRemoteAnchorsScript,
  type HtlcScriptKeys,
} from './scripts.js';
import type { Tx, TxOutput } from './tx.js';

/** A transaction output reference; txid in wire order. */
export interface Outpoint {
  txid: Uint8Array;
  vout: number;
}

/** One committed HTLC, seen from the commitment owner. */
export interface CommitmentHtlc {
  /** True if offered by the owner (HTLC-timeout side), false if received. */
  offered: boolean;
  amountMsat: bigint;
  paymentHash: Uint8Array;
  cltvExpiry: number;
}

/** The per-commitment keys (BOLT 3 Key Derivation), from the owner's point of view. */
export interface CommitmentKeys extends HtlcScriptKeys {
  localDelayedPubkey: Uint8Array;
  /** `remotepubkey` of the to_remote output (the peer's payment basepoint under static_remotekey). */
  remotePaymentPubkey: Uint8Array;
}

export interface CommitmentParams {
  format: CommitmentFormat;
  funding: Outpoint;
  fundingAmountSat: bigint;
  localFundingPubkey: Uint8Array;
  remoteFundingPubkey: Uint8Array;
  /** The 48-bit commitment number and the channel's obscuring factor (`commitmentNumberObscurer`). */
  commitmentNumber: bigint;
  commitmentNumberObscurer: bigint;
  /** The owner's outputs wait this long: `to_self_delay` set by the peer. */
  toSelfDelay: number;
  /** `dust_limit_satoshis` set by the owner. */
  dustLimitSat: bigint;
  feeratePerKw: number;
  /** Balances before the commitment fee and anchors (HTLCs in flight already taken out). */
  toLocalMsat: bigint;
  toRemoteMsat: bigint;
  /** True if the owner opened (funded) the channel and so pays the fee and anchors. */
  localIsOpener: boolean;
  htlcs: readonly CommitmentHtlc[];
  keys: CommitmentKeys;
}

/** What a commitment output is; `witnessScript` is absent only for a P2WPKH to_remote. */
export type CommitmentOutputInfo =
  | { kind: 'to_local' | 'to_remote' | 'local_anchor' | 'remote_anchor'; witnessScript?: Uint8Array }
  | { kind: 'htlc'; htlc: CommitmentHtlc; htlcIndex: number; witnessScript: Uint8Array };

export interface Commitment {
  /** Unsigned (empty witness). */
  tx: Tx;
  /** Index-aligned with tx.outputs. */
  outputs: CommitmentOutputInfo[];
  /** The 2-of-2 funding witness script: the BIP 143 scriptCode for signing. */
  fundingWitnessScript: Uint8Array;
  /** BOLT 3 base fee (without the anchors' 2 × 330 sat). */
  baseFeeSat: bigint;
}

/**
 * BOLT 3 Commitment Transaction: the lower 48 bits of
 * SHA256(payment_basepoint from open_channel || payment_basepoint from accept_channel).
 */
export function commitmentNumberObscurer(openerPaymentBasepoint: Uint8Array, accepterPaymentBasepoint: Uint8Array): bigint {
  const h = sha256(concat(openerPaymentBasepoint, accepterPaymentBasepoint));
  let v = 0n;
  for (let i = 26; i < 32; i++) v = (v << 8n) | BigInt(h[i]!);
  return v;
}

/** The commitment number encoded in a commitment tx's locktime and input sequence. */
export function obscuredCommitmentNumberOf(tx: Tx): bigint {
  const seq = tx.inputs[0]!.sequence;
  return (BigInt(seq & 0xffffff) << 24n) | BigInt(tx.locktime & 0xffffff);
}

interface PendingOutput {
  out: TxOutput;
  info: CommitmentOutputInfo;
  cltv: number;
}

/** BOLT 3 Transaction Output Ordering: amount, then scriptPubKey (memcmp, shorter first), then cltv_expiry. */
function outputOrder(a: PendingOutput, b: PendingOutput): number {
  if (a.out.amountSat !== b.out.amountSat) return a.out.amountSat < b.out.amountSat ? -1 : 1;
  const byScript = compareBytes(a.out.scriptPubKey, b.out.scriptPubKey);
  return byScript !== 0 ? byScript : a.cltv - b.cltv;
}

/** Builds the unsigned commitment transaction. */
export function buildCommitment(p: CommitmentParams): Commitment {
  const anchors = hasAnchors(p.format);
  if (p.toLocalMsat + p.toRemoteMsat > p.fundingAmountSat * 1000n) throw new RangeError('balances exceed the funding amount');

  // BOLT 3 step 1: which committed HTLCs are trimmed.
  const untrimmed: number[] = [];
  p.htlcs.forEach((h, i) => {
    if (!isHtlcTrimmed(p.format, h.offered, h.amountMsat, p.feeratePerKw, p.dustLimitSat)) untrimmed.push(i);
  });

  // Steps 2-3: base fee (plus 2 × 330 sat with anchors) comes out of the opener's balance;
  // if it cannot cover it, that balance is zero (CLN try_subtract_fee).
  const baseFeeSat = commitmentFeeSat(p.format, p.feeratePerKw, untrimmed.length);
  const openerCostMsat = (baseFeeSat + (anchors ? 2n * ANCHOR_OUTPUT_SAT : 0n)) * 1000n;
  let toLocalMsat = p.toLocalMsat;
  let toRemoteMsat = p.toRemoteMsat;
  if (p.localIsOpener) toLocalMsat = toLocalMsat > openerCostMsat ? toLocalMsat - openerCostMsat : 0n;
  else toRemoteMsat = toRemoteMsat > openerCostMsat ? toRemoteMsat - openerCostMsat : 0n;

  const pending: PendingOutput[] = [];
  const add = (amountSat: bigint, scriptPubKey: Uint8Array, info: CommitmentOutputInfo, cltv = 0): void => {
    pending.push({ out: { amountSat, scriptPubKey }, info, cltv });
  };

  // Steps 4-5: offered, then received, untrimmed HTLC outputs (amounts rounded down).
  for (const offered of [true, false]) {
    for (const i of untrimmed) {
      const h = p.htlcs[i]!;
      if (h.offered !== offered) continue;
      const witnessScript = offered
        ? offeredHtlcScript(p.keys, h.paymentHash, anchors)
        : receivedHtlcScript(p.keys, h.paymentHash, h.cltvExpiry, anchors);
      add(h.amountMsat / 1000n, p2wsh(witnessScript), { kind: 'htlc', htlc: h, htlcIndex: i, witnessScript }, h.cltvExpiry);
    }
  }

  // Step 6: to_local if at least the dust limit.
  const hasToLocal = toLocalMsat / 1000n >= p.dustLimitSat;
  if (hasToLocal) {
    const witnessScript = toLocalScript(p.keys.revocationPubkey, p.toSelfDelay, p.keys.localDelayedPubkey);
    add(toLocalMsat / 1000n, p2wsh(witnessScript), { kind: 'to_local', witnessScript });
  }

  // Step 7: to_remote if at least the dust limit; CSV-1 P2WSH with anchors, else P2WPKH.
  const hasToRemote = toRemoteMsat / 1000n >= p.dustLimitSat;
  if (hasToRemote) {
    if (anchors) {
      const witnessScript = toRemoteAnchorsScript(p.keys.remotePaymentPubkey);
      add(toRemoteMsat / 1000n, p2wsh(witnessScript), { kind: 'to_remote', witnessScript });
    } else add(toRemoteMsat / 1000n, p2wpkh(p.keys.remotePaymentPubkey), { kind: 'to_remote' });
  }

  // Step 8: an anchor for each side that has an output, both if any HTLC is untrimmed.
  if (anchors) {
    if (hasToLocal || untrimmed.length > 0) {
      const witnessScript = anchorScript(p.localFundingPubkey);
      add(ANCHOR_OUTPUT_SAT, p2wsh(witnessScript), { kind: 'local_anchor', witnessScript });
    }
    if (hasToRemote || untrimmed.length > 0) {
      const witnessScript = anchorScript(p.remoteFundingPubkey);
      add(ANCHOR_OUTPUT_SAT, p2wsh(witnessScript), { kind: 'remote_anchor', witnessScript });
    }
  }

  // Step 9: BIP 69 + CLTV order (Array.prototype.sort is stable; equal keys are identical outputs).
  pending.sort(outputOrder);

  const obscured = p.commitmentNumber ^ p.commitmentNumberObscurer;
  const tx: Tx = {
    version: 2,
    // "locktime: upper 8 bits are 0x20, lower 24 bits are the lower 24 bits of the obscured commitment number"
    locktime: (0x20000000 | Number(obscured & 0xffffffn)) >>> 0,
    inputs: [
      {
        prevTxid: p.funding.txid,
        prevVout: p.funding.vout,
        scriptSig: new Uint8Array(0),
        // "sequence: upper 8 bits are 0x80, lower 24 bits are upper 24 bits of the obscured commitment number"
        sequence: (0x80000000 | Number((obscured >> 24n) & 0xffffffn)) >>> 0,
        witness: [],
      },
    ],
    outputs: pending.map((o) => o.out),
  };
  return {
    tx,
    outputs: pending.map((o) => o.info),
    fundingWitnessScript: fundingScript(p.localFundingPubkey, p.remoteFundingPubkey),
    baseFeeSat,
  };
}

/**
 * BOLT 3 Commitment Transaction witness `0 <signature_for_pubkey1> <signature_for_pubkey2>`
 * followed by the funding witness script; signatures are witness items (DER ‖ sighash byte).
 */
export function fundingWitness(
  localFundingPubkey: Uint8Array,
  localSignature: Uint8Array,
  remoteFundingPubkey: Uint8Array,
  remoteSignature: Uint8Array,
): Uint8Array[] {
  const localFirst = compareBytes(localFundingPubkey, remoteFundingPubkey) < 0;
  return [
    new Uint8Array(0),
    localFirst ? localSignature : remoteSignature,
    localFirst ? remoteSignature : localSignature,
    fundingScript(localFundingPubkey, remoteFundingPubkey),
  ];
}

/**
 * Signer events: past-tense facts the signer's state is folded from (docs/design.md#the-signer-core).
 *
 * Keys derived from the seed are never events; they are recomputed at start. Events carry
 * only what a later decision depends on, so replaying them rebuilds the same state.
 */
import type { PolicyConfig } from './policy/policy.js';

/** A channel as hsmd knows it: the peer's node id and lightningd's channel dbid. */
export interface ChannelRef {
  readonly peer: Uint8Array;
  readonly dbid: bigint;
}

export interface DevPreinitialized {
  readonly kind: 'DevPreinitialized';
  readonly failPreapprove: boolean;
  readonly noPreapproveCheck: boolean;
  readonly warnOnOvergrind: boolean;
}

export interface NodeInitialized {
  readonly kind: 'NodeInitialized';
  /** hsmd_mutual_version: min(lightningd's max, 6). v5 changes get_per_commitment_point. */
  readonly wireVersion: number;
  readonly bip32KeyVersion: { readonly pub: number; readonly priv: number };
  readonly chainHash: Uint8Array;
}

export interface ChannelCreated {
  readonly kind: 'ChannelCreated';
  readonly channel: ChannelRef;
}

/** setup_channel: the channel's unchanging parameters (hsmd_setup_channel fields). */
export interface ChannelSetUp {
  readonly kind: 'ChannelSetUp';
  readonly channel: ChannelRef;
  readonly isOutbound: boolean;
  readonly channelValueSat: bigint;
  readonly pushValueMsat: bigint;
  readonly fundingTxid: Uint8Array;
  readonly fundingTxout: number;
  readonly localToSelfDelay: number;
  readonly localShutdownScript: Uint8Array;
  readonly localShutdownWalletIndex: number | undefined;
  readonly remoteBasepoints: {
    readonly revocation: Uint8Array;
    readonly payment: Uint8Array;
    readonly htlc: Uint8Array;
    readonly delayed_payment: Uint8Array;
  };
  readonly remoteFundingPubkey: Uint8Array;
  readonly remoteToSelfDelay: number;
  readonly remoteShutdownScript: Uint8Array;
  readonly channelType: Uint8Array;
}

export interface ChannelForgotten {
  readonly kind: 'ChannelForgotten';
  readonly channel: ChannelRef;
}

/** lock_outpoint: the funding (or splice) outpoint of a channel is buried. */
export interface OutpointLocked {
  readonly kind: 'OutpointLocked';
  readonly channel: ChannelRef;
  readonly txid: Uint8Array;
  readonly vout: number;
}

/** preapprove_invoice / preapprove_keysend (not the check-only forms). */
export interface PaymentPreapproved {
  readonly kind: 'PaymentPreapproved';
  readonly invoice: string | undefined;
  readonly keysend: { readonly destination: Uint8Array; readonly paymentHash: Uint8Array; readonly amountMsat: bigint } | undefined;
  readonly approved: boolean;
}

/** validate_commitment_tx: the peer's signatures on our commitment n were accepted. */
export interface HolderCommitmentValidated {
  readonly kind: 'HolderCommitmentValidated';
  readonly channel: ChannelRef;
  readonly commitNum: bigint;
  /** SHA256 of the request (PSBT replaced by the funding amount): a retry must match it. */
  readonly digest: Uint8Array;
}

/**
 * validate_commitment_tx: the transaction of our commitment n that was validated, by its txid
 * (wire order; witnesses left out), so that sign_commitment_tx signs only a commitment the
 * signer validated (policy-commitment-holder-validated, docs/policies.md).
 */
export interface HolderCommitmentTxidRecorded {
  readonly kind: 'HolderCommitmentTxidRecorded';
  readonly channel: ChannelRef;
  readonly commitNum: bigint;
  readonly txid: Uint8Array;
}

/** revoke_commitment_tx: our commitment n's secret was released; never sign it again. */
export interface HolderCommitmentRevoked {
  readonly kind: 'HolderCommitmentRevoked';
  readonly channel: ChannelRef;
  readonly commitNum: bigint;
}

/** sign_remote_commitment_tx: we signed the peer's commitment n for their point. */
export interface CounterpartyCommitmentSigned {
  readonly kind: 'CounterpartyCommitmentSigned';
  readonly channel: ChannelRef;
  readonly commitNum: bigint;
  readonly point: Uint8Array;
  /** SHA256 of the request (PSBT replaced by the funding amount): a retry must match it. */
  readonly digest: Uint8Array;
}

/** validate_revocation: the peer revealed the secret of its commitment n. */
export interface CounterpartySecretStored {
  readonly kind: 'CounterpartySecretStored';
  readonly channel: ChannelRef;
  readonly commitNum: bigint;
  readonly secret: Uint8Array;
}

/**
 * What a commitment we validated (`holder`) or signed (`counterparty`) pays us at least, in
 * sat: our balance less the HTLCs in flight (policy/close-rules.ts says how it is read from
 * the transaction). policy-mutual-value-matches-commitment compares a mutual close with it.
 */
export interface CommitmentBalanceRecorded {
  readonly kind: 'CommitmentBalanceRecorded';
  readonly channel: ChannelRef;
  readonly side: 'holder' | 'counterparty';
  readonly commitNum: bigint;
  readonly ourBalanceSat: bigint;
}

/** An HTLC of a commitment, as policy-htlc-payment-approved remembers it. */
export interface SeenHtlc {
  /** We offered it (hsm_htlc side LOCAL): it pays out of our balance. */
  readonly offered: boolean;
  readonly amountMsat: bigint;
  readonly paymentHash: Uint8Array;
  readonly cltvExpiry: number;
}

/**
 * The HTLCs of a commitment we validated (`holder`) or signed (`counterparty`), journaled
 * while policy-htlc-payment-approved or policy-htlc-tx-locktime is on
 * (policy/htlc-payment-rules.ts; an empty list when neither is, dropping a list kept): the
 * next commitment's new HTLCs are those not in the latest ones, forwards are matched against
 * HTLCs offered to us on other channels (htlc-ledger.ts), and HTLC transactions against their
 * commitment's HTLCs (policy/htlc-locktime-rules.ts).
 */
export interface CommitmentHtlcsRecorded {
  readonly kind: 'CommitmentHtlcsRecorded';
  readonly channel: ChannelRef;
  readonly side: 'holder' | 'counterparty';
  readonly commitNum: bigint;
  readonly htlcs: readonly SeenHtlc[];
}

/** A policy rule configured as warn-only was violated; the request went ahead. */
export interface PolicyWarned {
  readonly kind: 'PolicyWarned';
  readonly policy: string;
  readonly detail: string;
}

/**
 * Chain events (docs/chain.md): facts the device checked itself from what the broker showed
 * it (headers with their proof of work, transactions with merkle proofs). Txids and block
 * hashes are internal byte order, as elsewhere in the signer.
 */

/** A header that links to the tip, with valid proof of work, is the new tip. */
export interface ChainTipAdvanced {
  readonly kind: 'ChainTipAdvanced';
  readonly height: number;
  /** The 80-byte header (its hash, time and bits are read from it). */
  readonly header: Uint8Array;
}

/** A branch with more work replaced the headers above `forkHeight`. */
export interface ChainReorganized {
  readonly kind: 'ChainReorganized';
  readonly forkHeight: number;
  /** The tip that was given up, and how many headers went with it. */
  readonly oldTipHash: Uint8Array;
  readonly disconnected: number;
}

/** A watched outpoint's transaction is in the block at `height` (merkle proof checked). */
export interface OutpointConfirmed {
  readonly kind: 'OutpointConfirmed';
  readonly txid: Uint8Array;
  readonly vout: number;
  readonly height: number;
  readonly blockHash: Uint8Array;
  readonly valueSat: bigint;
}

/** A watched outpoint is spent by `spendingTxid` in the block at `height` (merkle proof checked). */
export interface OutpointSpent {
  readonly kind: 'OutpointSpent';
  readonly txid: Uint8Array;
  readonly vout: number;
  readonly height: number;
  readonly blockHash: Uint8Array;
  readonly spendingTxid: Uint8Array;
}

export type ChainEvent = ChainTipAdvanced | ChainReorganized | OutpointConfirmed | OutpointSpent;
/** The device's policy was replaced: from its policy file (its SHA-256 given) or a control command. */
export interface PolicyChanged {
  readonly kind: 'PolicyChanged';
  readonly policy: PolicyConfig;
  /** SHA-256 of the policy file it came from; empty when a control command set it. */
  readonly fileDigest: Uint8Array;
}

/** A signed control command was accepted (signer/control): its nonce is used up. */
export interface ControlAccepted {
  readonly kind: 'ControlAccepted';
  readonly nonce: bigint;
  /** The command, as the owner would read it (e.g. "allowlist add bcrt1q…"). */
  readonly command: string;
}

/** The owner approved one payment above the velocity limit. */
export interface PaymentApprovalGranted {
  readonly kind: 'PaymentApprovalGranted';
  readonly paymentHash: Uint8Array;
}

/** A preapproved payment counted against the velocity limit (or passed beyond it). */
export interface PaymentAuthorized {
  readonly kind: 'PaymentAuthorized';
  /** The device's clock, unix seconds, when it was decided. */
  readonly at: number;
  readonly amountMsat: bigint;
  readonly paymentHash: Uint8Array;
  /** Why it passed: within the limit, an allowlisted payee, or a one-time approval (used up). */
  readonly via: 'limit' | 'payee' | 'approval';
  /** The velocity window in force: older payments stop counting. */
  readonly windowSec: number;
}

/** A rule refused something whose answer carries no reason (a preapproval): for the audit trail. */
export interface PolicyRefused {
  readonly kind: 'PolicyRefused';
  readonly policy: string;
  readonly detail: string;
}

export type SignerEvent =
  | DevPreinitialized
  | NodeInitialized
  | ChannelCreated
  | ChannelSetUp
  | ChannelForgotten
  | OutpointLocked
  | PaymentPreapproved
  | HolderCommitmentValidated
  | HolderCommitmentTxidRecorded
  | HolderCommitmentRevoked
  | CounterpartyCommitmentSigned
  | CounterpartySecretStored
  | CommitmentBalanceRecorded
  | CommitmentHtlcsRecorded
  | PolicyWarned
  | ChainEvent
  | PolicyChanged
  | ControlAccepted
  | PaymentApprovalGranted
  | PaymentAuthorized
  | PolicyRefused;

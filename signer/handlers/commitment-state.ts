/**
 * Per-channel commitment state, folded from the commitment events (docs/design.md#the-signer-core):
 * HolderCommitmentValidated, HolderCommitmentTxidRecorded, HolderCommitmentRevoked,
 * CounterpartyCommitmentSigned, CounterpartySecretStored, CommitmentBalanceRecorded. `state.ts` delegates those events here.
 *
 * Everything is optional on purpose: a signer whose state begins after the channel did
 * (lightningd restarted on an old database, docs/hsmd-protocol.md#recorded-facts) has no history, and the rules
 * that need history skip until it has some (commitment-rules.ts).
 */
import type {
  CommitmentBalanceRecorded,
  CounterpartyCommitmentSigned,
  CounterpartySecretStored,
  HolderCommitmentRevoked,
  HolderCommitmentTxidRecorded,
  HolderCommitmentValidated,
} from '../events.js';
import { equal } from '../bytes.js';
import { emptySecretChain, storeSecret, type SecretChain } from '../keys/shachain.js';

/** A commitment we took part in: its number and the digest of the request's data. */
export interface CommitmentRecord {
  readonly n: bigint;
  /** SHA256 of the request with its PSBT replaced by the funding amount (retry identity). */
  readonly digest: Uint8Array;
}

export interface SignedCounterpartyCommitment extends CommitmentRecord {
  /** The counterparty's per-commitment point for n (its secret must match it). */
  readonly point: Uint8Array;
}

export interface CommitmentState {
  /** Our latest validated commitment (validate_commitment_tx). */
  readonly holderValidated: CommitmentRecord | undefined;
  /** The first holder commitment this state saw validated: history before it is unknown. */
  readonly holderFirst: bigint | undefined;
  /** The highest holder commitment number we revoked (revoke_commitment_tx). */
  readonly holderRevokedThrough: bigint | undefined;
  /**
   * The txids of our validated commitments that are not revoked (the latest number and the
   * one before it, one per funding transaction in flight; at most MAX_HOLDER_TXIDS, oldest
   * dropped first); undefined while none was ever recorded for the channel.
   */
  readonly holderTxids: readonly HolderTxid[] | undefined;
  /** The latest counterparty commitment we signed, and the one before it. */
  readonly counterpartySigned: SignedCounterpartyCommitment | undefined;
  readonly counterpartyPrevious: SignedCounterpartyCommitment | undefined;
  /** The first counterparty commitment this state saw signed. */
  readonly counterpartyFirst: bigint | undefined;
  /** Their revealed per-commitment secrets (BOLT 3 compact storage). */
  readonly secrets: SecretChain;
  /** What a holder / counterparty commitment pays us at least (CommitmentBalanceRecorded); undefined until recorded. */
  readonly holderBalance: RecordedBalance | undefined;
  readonly counterpartyBalance: RecordedBalance | undefined;
}

/** A validated holder commitment: its number and txid (wire order). */
export interface HolderTxid {
  readonly n: bigint;
  readonly txid: Uint8Array;
}

/**
 * How many holder commitment txids a channel keeps: two numbers (the latest and the one not
 * yet revoked before it), each once per funding transaction in flight during a splice. A bound,
 * so that a node validating commitment n for many funding outpoints cannot grow the state.
 */
export const MAX_HOLDER_TXIDS = 8;

/** Our balance (HTLCs in flight left out) in commitment n. */
export interface RecordedBalance {
  readonly n: bigint;
  readonly sat: bigint;
}

export const emptyCommitmentState: CommitmentState = Object.freeze({
  holderValidated: undefined,
  holderFirst: undefined,
  holderRevokedThrough: undefined,
  holderTxids: undefined,
  counterpartySigned: undefined,
  counterpartyPrevious: undefined,
  counterpartyFirst: undefined,
  secrets: emptySecretChain,
  holderBalance: undefined,
  counterpartyBalance: undefined,
});

export type CommitmentEvent =
  | HolderCommitmentValidated
  | HolderCommitmentTxidRecorded
  | HolderCommitmentRevoked
  | CounterpartyCommitmentSigned
  | CounterpartySecretStored
  | CommitmentBalanceRecorded;

/** A commitment state being built by the fold (its own fresh copy). */
type Draft = { -readonly [K in keyof CommitmentState]: CommitmentState[K] };

/**
 * A copy written field by field: the fold makes one per commitment event, and a literal of
 * one known shape costs a fraction of a spread (docs/journal.md "Rebuild").
 */
const copy = (c: CommitmentState): Draft => ({
  holderValidated: c.holderValidated,
  holderFirst: c.holderFirst,
  holderRevokedThrough: c.holderRevokedThrough,
  holderTxids: c.holderTxids,
  counterpartySigned: c.counterpartySigned,
  counterpartyPrevious: c.counterpartyPrevious,
  counterpartyFirst: c.counterpartyFirst,
  secrets: c.secrets,
  holderBalance: c.holderBalance,
  counterpartyBalance: c.counterpartyBalance,
});

/** Folds one commitment event. A repeat of the latest fact changes nothing. */
export function applyCommitmentEvent(s: CommitmentState | undefined, e: CommitmentEvent): CommitmentState {
  const c = s ?? emptyCommitmentState;
  const next = copy(c);
  switch (e.kind) {
    case 'HolderCommitmentValidated':
      next.holderValidated = { n: e.commitNum, digest: e.digest };
      next.holderFirst = c.holderFirst ?? e.commitNum;
      return next;
    case 'HolderCommitmentTxidRecorded': {
      const kept = (c.holderTxids ?? []).filter((t) => t.n + 1n >= e.commitNum && !(t.n === e.commitNum && equal(t.txid, e.txid)));
      next.holderTxids = [...kept, { n: e.commitNum, txid: e.txid }].slice(-MAX_HOLDER_TXIDS);
      return next;
    }
    case 'HolderCommitmentRevoked': {
      const through = c.holderRevokedThrough;
      next.holderRevokedThrough = through === undefined || e.commitNum > through ? e.commitNum : through;
      // A revoked commitment is never signed again: its txid need not be kept.
      if (c.holderTxids !== undefined) next.holderTxids = c.holderTxids.filter((t) => t.n > next.holderRevokedThrough!);
      return next;
    }
    case 'CounterpartyCommitmentSigned': {
      const last = c.counterpartySigned;
      next.counterpartySigned = { n: e.commitNum, point: e.point, digest: e.digest };
      next.counterpartyPrevious = last !== undefined && last.n !== e.commitNum ? last : c.counterpartyPrevious;
      next.counterpartyFirst = c.counterpartyFirst ?? e.commitNum;
      return next;
    }
    case 'CounterpartySecretStored':
      // Compact storage only takes the next secret (the first may be any, keys/shachain.ts).
      // decide checked the secret (policy-revocation-shachain); the fold only stores it. A
      // journal altered behind its CRCs is sphinx-audit verify's to find, not the fold's.
      if (c.secrets.last !== undefined && e.commitNum !== c.secrets.last + 1n) return c;
      next.secrets = storeSecret(c.secrets, e.commitNum, e.secret);
      return next;
    case 'CommitmentBalanceRecorded': {
      const balance = { n: e.commitNum, sat: e.ourBalanceSat };
      if (e.side === 'holder') next.holderBalance = balance;
      else next.counterpartyBalance = balance;
      return next;
    }
  }
}

/**
 * Named validation rules for commitment signing (VLS style, policy.ts): each function
 * returns the violations of one request; the handlers (handlers/commitment.ts) `enforce`
 * them. The order rules were derived from the recorded sessions (session-basic-l1/l2),
 * where CLN's channeld, for each commitment n, does:
 *   counterparty: sign_remote_commitment_tx n, then later validate_revocation n-1
 *                 (so when n is signed, n-2 has been revoked, never necessarily n-1);
 *   holder:       validate_commitment_tx n, then revoke_commitment_tx n-1
 *                 (so when n is validated, n-2 has been revoked).
 * The default limits refuse nothing in those sessions.
 *
 * Missing history (no setup_channel, or a state that began after the channel did,
 * docs/hsmd-protocol.md#recorded-facts) never refuses what CLN's stateless hsmd would sign: each rule that needs
 * it is skipped, as noted on the rule.
 */
import { equal, toHex } from '../bytes.js';
import { reverseTxid } from '../bolt3/tx.js';
import type { ChannelState } from '../state.js';
import type { HsmHtlc } from '../wire/fields.js';
import { DIGEST_FUNDING_BYTES } from '../handlers/commitment-sign.js';
import type { CommitmentRecord, CommitmentState } from '../handlers/commitment-state.js';
import { chainSecret } from '../keys/shachain.js';
import { check, isEnforced, type PolicyConfig, type PolicyViolation } from './policy.js';

/** The numbers a commitment request carries that the limit rules look at. */
export interface CommitmentFacts {
  readonly commitNum: bigint;
  readonly feeratePerKw: number;
  readonly htlcs: readonly HsmHtlc[];
  /** The funding output's value (from the PSBT). */
  readonly fundingSat: bigint;
}

/**
 * Limits on one commitment (sign_remote_commitment_tx, validate_commitment_tx):
 * - policy-feerate-range: min ≤ feerate ≤ max; skipped for CLN's "unused" feerate 0 on
 *   commitment 0 with no HTLCs (openingd.c: `u32 feerate = 0; // unused since there are no htlcs`);
 * - policy-htlc-count: at most maxHtlcs HTLCs;
 * - policy-htlc-value: HTLCs total at most maxHtlcValueSat (msat rounded down);
 * - policy-channel-value: the funding output (and setup_channel's value, if known) at most
 *   maxChannelValueSat;
 * - policy-to-self-delay-range: both to_self_delays of setup_channel within [min, max]
 *   (skipped without setup_channel).
 */
export function commitmentLimits(p: PolicyConfig, channel: ChannelState | undefined, f: CommitmentFacts): PolicyViolation[] {
  const feerateUnused = f.feeratePerKw === 0 && f.commitNum === 0n && f.htlcs.length === 0;
  const htlcSat = f.htlcs.reduce((sum, h) => sum + h.amount / 1000n, 0n);
  const setup = channel?.setup;
  const delayOk = (d: number) => d >= p.minToSelfDelay && d <= p.maxToSelfDelay;
  return [
    ...check(feerateUnused || (f.feeratePerKw >= p.minFeeratePerKw && f.feeratePerKw <= p.maxFeeratePerKw), 'policy-feerate-range',
      () => `feerate ${f.feeratePerKw} outside [${p.minFeeratePerKw}, ${p.maxFeeratePerKw}]`),
    ...check(f.htlcs.length <= p.maxHtlcs, 'policy-htlc-count', () => `${f.htlcs.length} HTLCs > ${p.maxHtlcs}`),
    ...check(htlcSat <= p.maxHtlcValueSat, 'policy-htlc-value', () => `HTLCs total ${htlcSat} sat > ${p.maxHtlcValueSat}`),
    ...check(f.fundingSat <= p.maxChannelValueSat && (setup === undefined || setup.channelValueSat <= p.maxChannelValueSat),
      'policy-channel-value', () => `channel value ${f.fundingSat} sat > ${p.maxChannelValueSat}`),
    ...check(setup === undefined || (delayOk(setup.localToSelfDelay) && delayOk(setup.remoteToSelfDelay)), 'policy-to-self-delay-range',
      () => `to_self_delay ${setup?.localToSelfDelay}/${setup?.remoteToSelfDelay} outside [${p.minToSelfDelay}, ${p.maxToSelfDelay}]`),
  ];
}

/** Whether the counterparty's commitment n is revoked, or before what this state knows. */
function counterpartyRevokedOrUnknown(c: CommitmentState, n: bigint): boolean {
  if (c.counterpartyFirst === undefined || n < c.counterpartyFirst) return true;
  return c.secrets.last !== undefined && n <= c.secrets.last;
}

/**
 * sign_remote_commitment_tx n:
 * - policy-commitment-counterparty-order: n is the last signed + 1, or the last signed
 *   (a retry); and if n ≥ 2, the counterparty's n-2 is revoked (its secret is stored).
 *   Skipped while no counterparty commitment was ever signed; n-2 is not required when it
 *   is older than the first commitment this state saw signed.
 * - policy-retry-identical: a retry of n carries exactly the data (digest) of the first
 *   (conflictsWith).
 */
export function counterpartySignRules(c: CommitmentState | undefined, n: bigint, digest: Uint8Array): PolicyViolation[] {
  const last = c?.counterpartySigned;
  if (c === undefined || last === undefined) return [];
  const inOrder = n === last.n || n === last.n + 1n;
  const previousRevoked = n < 2n || counterpartyRevokedOrUnknown(c, n - 2n);
  return [
    ...check(inOrder && previousRevoked, 'policy-commitment-counterparty-order', () =>
      inOrder ? `commitment ${n - 2n} not revoked before signing ${n}` : `commitment ${n} out of order (last signed ${last.n})`),
    ...check(!conflictsWith(last, n, digest), 'policy-retry-identical', () => `retry of commitment ${n} with different data`),
  ];
}

/**
 * A request for commitment n conflicts with the last one recorded if it has the same number
 * and the same funding outpoint but different data. The same number for another funding
 * outpoint is not a retry: during a splice channeld signs and validates commitment n once
 * per funding transaction in flight (channeld.c send_commit, handle_peer_commit_sig_batch).
 */
function conflictsWith(last: CommitmentRecord, n: bigint, digest: Uint8Array): boolean {
  if (n !== last.n || equal(digest, last.digest)) return false;
  const sameFunding = equal(digest.subarray(0, DIGEST_FUNDING_BYTES), last.digest.subarray(0, DIGEST_FUNDING_BYTES));
  return sameFunding;
}

/**
 * sign_remote_htlc_tx: policy-htlc-tx-counterparty-point: the point is that of the last or
 * the previous counterparty commitment we signed (skipped while none was signed).
 */
export function counterpartyHtlcRules(c: CommitmentState | undefined, point: Uint8Array): PolicyViolation[] {
  const known = [c?.counterpartySigned, c?.counterpartyPrevious].filter((s) => s !== undefined);
  return check(known.length === 0 || known.some((s) => equal(s.point, point)), 'policy-htlc-tx-counterparty-point',
    () => 'HTLC tx for a per-commitment point of no commitment we signed');
}

/**
 * validate_revocation n with secret s (pointOfSecret = s·G):
 * - policy-revocation-order: n is the next secret (last stored + 1; any while none is
 *   stored), or one already stored (a retry); and a later commitment (n+1) was signed
 *   (skipped while none was signed).
 * - policy-retry-identical: a retry of n carries the same secret.
 * - policy-revocation-secret-matches-point: s·G is the point we signed commitment n for
 *   (skipped if we did not see n signed).
 * - policy-revocation-shachain: s derives the secrets already stored (BOLT 3 insert_secret);
 *   the caller reports a failed insert under this name.
 */
export function revocationRules(c: CommitmentState | undefined, n: bigint, secret: Uint8Array, pointOfSecret: Uint8Array): PolicyViolation[] {
  const last = c?.secrets.last;
  const stored = c ? chainSecret(c.secrets, n) : undefined;
  const isRetry = last !== undefined && n <= last;
  const nextOk = last === undefined || n === last + 1n || isRetry;
  const signed = c?.counterpartySigned;
  const laterSigned = signed === undefined || signed.n > n;
  const seen = [signed, c?.counterpartyPrevious].find((s) => s !== undefined && s.n === n);
  return [
    ...check(nextOk && laterSigned, 'policy-revocation-order', () =>
      nextOk ? `revocation of ${n} before commitment ${n + 1n} was signed` : `revocation of ${n} out of order (last ${last})`),
    ...check(!isRetry || stored === undefined || equal(stored, secret), 'policy-retry-identical',
      () => `revocation of ${n} repeated with a different secret`),
    ...check(seen === undefined || equal(seen.point, pointOfSecret), 'policy-revocation-secret-matches-point',
      () => `secret for ${n} does not match the point we signed it for`),
  ];
}

/**
 * validate_commitment_tx n:
 * - policy-commitment-holder-order: n is the last validated + 1, or the last (a retry);
 *   and if n ≥ 2, our n-2 is revoked (skipped while none was validated, and for n-2 older
 *   than the first one this state saw).
 * - policy-retry-identical: a retry of n carries the same data (conflictsWith).
 */
export function holderValidateRules(c: CommitmentState | undefined, n: bigint, digest: Uint8Array): PolicyViolation[] {
  const last = c?.holderValidated;
  if (c === undefined || last === undefined) return [];
  const inOrder = n === last.n || n === last.n + 1n;
  const prev = n - 2n;
  const previousRevoked = n < 2n || prev < c.holderFirst! || (c.holderRevokedThrough !== undefined && prev <= c.holderRevokedThrough);
  return [
    ...check(inOrder && previousRevoked, 'policy-commitment-holder-order', () =>
      inOrder ? `our commitment ${prev} not revoked before validating ${n}` : `commitment ${n} out of order (last validated ${last.n})`),
    ...check(!conflictsWith(last, n, digest), 'policy-retry-identical', () => `retry of commitment ${n} with different data`),
  ];
}

/**
 * revoke_commitment_tx n: policy-revoke-holder-current: never revoke our current
 * commitment: n+1 must have been validated first (skipped while none was validated).
 */
export function holderRevokeRules(c: CommitmentState | undefined, n: bigint): PolicyViolation[] {
  const last = c?.holderValidated;
  return check(last === undefined || n < last.n, 'policy-revoke-holder-current',
    () => `revoking ${n} but the latest validated commitment is ${last?.n}`);
}

const HOLDER_VALIDATED = 'policy-commitment-holder-validated';

/**
 * sign_commitment_tx n (lightningd signing the transaction it keeps as the channel's last, to
 * broadcast it; docs/policies.md "What sign_commitment_tx signs"):
 * - policy-commitment-revoked-holder: n was not revoked.
 * - policy-commitment-holder-validated: the transaction (by txid) is one we validated as our
 *   commitment n and did not revoke, or else a mutual close that the close rules accept
 *   (`asClose` gives their violations: lightningd keeps the agreed close as the channel's last
 *   transaction and signs it here to broadcast it; a string: it cannot be read as one). Rules
 *   of `asClose` that are only warned pass, as at sign_mutual_close_tx, and their violations
 *   are returned to be warned. Skipped while no txid was ever recorded for the channel (a
 *   state that began after it).
 */
export function holderSignRules(
  p: PolicyConfig,
  c: CommitmentState | undefined,
  n: bigint,
  txid: Uint8Array,
  asClose: () => readonly PolicyViolation[] | string,
): PolicyViolation[] {
  const through = c?.holderRevokedThrough;
  const revoked = check(through === undefined || n > through, 'policy-commitment-revoked-holder',
    () => `our commitment ${n} is revoked (through ${through})`);
  const known = c?.holderTxids;
  if (known === undefined || p.off.has(HOLDER_VALIDATED) || known.some((t) => t.n === n && equal(t.txid, txid))) return revoked;
  const close = asClose();
  const refused = typeof close === 'string' ? undefined : close.find((v) => isEnforced(p, v));
  if (typeof close !== 'string' && refused === undefined) return [...revoked, ...close];
  const why = refused === undefined ? close : `${refused.policy}: ${refused.detail}`;
  const validated = known.map((t) => `${t.n} ${toHex(reverseTxid(t.txid))}`).join(', ') || 'none';
  const detail = `tx ${toHex(reverseTxid(txid))} is not our commitment ${n} as validated (not revoked: ${validated}), ` +
    `nor a mutual close the close rules accept (${why})`;
  return [...revoked, { policy: HOLDER_VALIDATED, detail }];
}

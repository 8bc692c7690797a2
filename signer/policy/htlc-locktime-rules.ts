/**
 * `policy-htlc-tx-locktime` (docs/policies.md "HTLC transaction locktimes"): an HTLC-timeout
 * transaction's locktime is the HTLC's cltv_expiry, and nothing else holds the HTLC's offerer
 * back: the 2-of-2 branch of an offered HTLC's script has no CLTV (BOLT 3 "Offered HTLC
 * Outputs"), so our signature with a low locktime lets the offerer take the HTLC back early.
 *
 * The witness script the request carries says which kind of HTLC the input spends (our
 * signature commits to it, BIP 143, so it is the script of the output the signature can
 * spend): an HTLC offered by the commitment's owner (its HTLC-timeout, locktime its
 * cltv_expiry, never 0) or received by it (its HTLC-success, locktime 0). Then, where the
 * signer keeps the commitment's HTLCs (CommitmentHtlcsRecorded, while this rule or
 * policy-htlc-payment-approved is on, htlc-payment-rules.ts: the latest holder and
 * counterparty commitments, htlc-ledger.ts), the input must be one of them: of that kind,
 * under the script's payment hash (its RIPEMD160), with the input's amount (msat / 1000,
 * rounded down, BOLT 3) and the cltv_expiry the locktime (timeout) or the script (success)
 * states.
 *
 * Which commitment: sign_remote_htlc_tx names the peer's by its per-commitment point, which
 * must be that of the latest we signed (CLN signs a commitment's HTLC transactions right after
 * it, channeld's calc_commitsigs; the one before it may still be broadcast and its HTLCs are
 * not kept). The local forms name ours by number; one other than the latest validated is
 * not matched (the one before may be on chain after a crash between validation and
 * revocation). Not matched either, and signed as CLN's hsmd would: no commitment history
 * (a state that began after the channel), an empty list (no HTLCs, or none recorded: a
 * commitment without HTLC outputs gives the signature nothing to spend), no input amount
 * (the signing step refuses that request).
 */
import { equal, toHex } from '../bytes.js';
import { ripemd160 } from '../crypto/hashes.js';
import { readHtlcScript, type HtlcScriptTerms } from '../bolt3/scripts.js';
import type { SeenHtlc } from '../events.js';
import type { ChannelState } from '../state.js';
import type { SignedHtlcTx } from './htlc-tx-rules.js';
import { check, type PolicyConfig, type PolicyViolation } from './policy.js';

export const HTLC_TX_LOCKTIME = 'policy-htlc-tx-locktime';

/** The commitment whose HTLC output the transaction spends, as the request names it. */
export type HtlcTxCommitment =
  | { readonly owner: 'counterparty'; readonly point: Uint8Array }
  | { readonly owner: 'holder'; readonly commitNum: bigint };

/** The commitment's HTLCs and its number; `htlcs` undefined: not matched (see the module comment); a string: refused. */
type Known = { readonly n: bigint; readonly htlcs: readonly SeenHtlc[] | undefined } | string | undefined;

function knownHtlcs(channel: ChannelState | undefined, c: HtlcTxCommitment): Known {
  if (c.owner === 'counterparty') {
    const latest = channel?.commitments?.counterpartySigned;
    if (latest === undefined) return undefined;
    if (!equal(latest.point, c.point)) return `HTLC transaction for a commitment of the peer's other than its latest (${latest.n}), the only one whose HTLCs are kept`;
    return { n: latest.n, htlcs: channel!.htlcs?.counterparty };
  }
  const latest = channel?.commitments?.holderValidated;
  return latest === undefined || latest.n !== c.commitNum ? undefined : { n: latest.n, htlcs: channel!.htlcs?.holder };
}

const sat = (h: SeenHtlc): bigint => h.amountMsat / 1000n;

/** policy-htlc-tx-locktime (see the module comment). */
export function htlcTxLocktime(policy: PolicyConfig, channel: ChannelState | undefined, c: HtlcTxCommitment, spend: Pick<SignedHtlcTx, 'tx' | 'inputSat' | 'witnessScript'>): PolicyViolation[] {
  if (policy.off.has(HTLC_TX_LOCKTIME)) return [];
  const terms = readHtlcScript(spend.witnessScript);
  const { locktime } = spend.tx;
  if (terms === undefined) return check(false, HTLC_TX_LOCKTIME, () => `the witness script ${toHex(spend.witnessScript)} is no BOLT 3 HTLC output script`);
  const kind = terms.offered ? 'HTLC-timeout' : 'HTLC-success';
  // BOLT 3: "locktime: 0 for HTLC-success, cltv_expiry for HTLC-timeout"; no HTLC expires at 0.
  if (terms.offered === (locktime === 0)) {
    return check(false, HTLC_TX_LOCKTIME, () => `${kind} transaction with locktime ${locktime}: BOLT 3 gives it ${terms.offered ? "the HTLC's cltv_expiry" : '0'}`);
  }
  const known = knownHtlcs(channel, c);
  if (typeof known === 'string') return check(false, HTLC_TX_LOCKTIME, () => known);
  const { inputSat } = spend;
  if (known === undefined || known.htlcs === undefined || known.htlcs.length === 0 || inputSat === undefined) return [];
  // SeenHtlc.offered is ours: on the peer's commitment, the owner offered what we received.
  const ownerOffered = (h: SeenHtlc): boolean => h.offered === (c.owner === 'holder');
  const expiry = terms.offered ? locktime : terms.cltvExpiry;
  const sameHash = (h: SeenHtlc): boolean => equal(ripemd160(h.paymentHash), terms.paymentHash160);
  const ok = known.htlcs.some((h) => ownerOffered(h) === terms.offered && sat(h) === inputSat && h.cltvExpiry === expiry && sameHash(h));
  return check(ok, HTLC_TX_LOCKTIME, () => mismatch(c, known.n, known.htlcs!.filter((h) => ownerOffered(h) === terms.offered && sameHash(h)), terms, locktime, inputSat));
}

function mismatch(c: HtlcTxCommitment, n: bigint, sameKind: readonly SeenHtlc[], terms: HtlcScriptTerms, locktime: number, inputSat: bigint): string {
  const offerer = (c.owner === 'holder') === terms.offered ? 'us' : 'the peer';
  const whose = c.owner === 'holder' ? 'our' : "the peer's";
  const spends = terms.offered
    ? `HTLC-timeout transaction with locktime ${locktime} spends a ${inputSat} sat HTLC`
    : `HTLC-success transaction spends a ${inputSat} sat HTLC expiring at ${terms.cltvExpiry}`;
  const has = sameKind.length === 0 ? 'none' : sameKind.map((h) => `${sat(h)} sat expiring at ${h.cltvExpiry}`).join(', ');
  return `${spends} offered by ${offerer} under payment hash160 ${toHex(terms.paymentHash160)}: ${whose} latest commitment ${n} has ${has}`;
}

/**
 * Commitment signing with validation: sign_remote_commitment_tx (19), sign_remote_htlc_tx
 * (20), validate_commitment_tx (35), validate_revocation (36), revoke_commitment_tx (40)
 * and sign_commitment_tx (5).
 *
 * Replies are CLN v25.12.1's (libhsmd.c handlers of the same names) byte for byte; on top,
 * the commitment rules of policy/commitment-rules.ts are enforced and the channel's
 * history is recorded as events (commitment-state.ts). A retry with identical data gets the
 * identical reply (signatures are deterministic) and records nothing new.
 */
import { equal, u64be } from '../bytes.js';
import { badRequest, replyWith, type Decision } from '../decision.js';
import type { ChannelRef, SignerEvent } from '../events.js';
import { derivePrivateKey, derivePublicKey } from '../keys/bolt3-keys.js';
import {
  commitmentLimits,
  counterpartyHtlcRules,
  counterpartySignRules,
  holderRevokeRules,
  holderSignRules,
  holderValidateRules,
  revocationRules,
} from '../policy/commitment-rules.js';
import { check, enforce, type PolicyViolation } from '../policy/policy.js';
import { commitmentChainRules } from '../policy/chain-rules.js';
import { commitmentBalance, type CommitmentOutputs } from '../policy/close-rules.js';
import { htlcEvents, htlcPaymentRules, seenHtlcs } from '../policy/htlc-payment-rules.js';
import { htlcTxFeeRange, type SignedHtlcTx } from '../policy/htlc-tx-rules.js';
import { htlcTxLocktime } from '../policy/htlc-locktime-rules.js';
import { channelKey, clientChannel, type ChannelState, type SignerState } from '../state.js';
import { encodeMessage } from '../wire/messages.js';
import { SIGHASH_ALL, SIGHASH_ANYONECANPAY, SIGHASH_SINGLE } from '../bolt3/sighash.js';
import { fundingScript } from '../bolt3/scripts.js';
import { txid } from '../bolt3/tx.js';
import { closeViolations } from './onchain.js';
import { readBitcoinTx } from './onchain-tx.js';
import { htlcFieldsBytes, requestDigest, signFundingInput, signInput0, spendingTx, verifyFundingInput } from './commitment-sign.js';
import type { DecideContext, HandlerTable } from './context.js';
import { emptySecretChain, insertSecret } from '../keys/shachain.js';

/** BOLT 3 per-commitment indexes are 48 bits (derive_basepoints.c per_commit_secret). */
const MAX_COMMITMENT = 1n << 48n;

const channelOf = (state: SignerState, ref: ChannelRef): ChannelState | undefined => state.channels.get(channelKey(ref));
/** CommitmentBalanceRecorded for this commitment, if its balance can be read (close-rules.ts). */
function balanceEvents(channel: ChannelState | undefined, ref: ChannelRef, commitNum: bigint, commitment: CommitmentOutputs): SignerEvent[] {
  const ourBalanceSat = commitmentBalance(channel?.setup, commitment);
  return ourBalanceSat === undefined ? [] : [{ kind: 'CommitmentBalanceRecorded', channel: ref, side: commitment.side, commitNum, ourBalanceSat }];
}

const fundingKeys = (ctx: DecideContext, ref: ChannelRef) => {
  const keys = ctx.keys.channel(ref.peer, ref.dbid);
  return { keys, funding: { priv: keys.fundingPrivateKey, pub: keys.fundingPublicKey } };
};

export const commitmentHandlers: HandlerTable = {
  // libhsmd.c handle_sign_remote_commitment_tx: SIGHASH_ALL over the 2-of-2 funding script.
  hsmd_sign_remote_commitment_tx: (ctx, state, env, m) => {
    const s = spendingTx(m.tx, true, ctx.curve);
    if (!s.ok) return badRequest(s.why);
    const ref = clientChannel(env);
    const channel = channelOf(state, ref);
    const c = channel?.commitments;
    const htlcs = seenHtlcs(m.htlcs);
    const digest = requestDigest(s.tx, m.tx.tx, s.amountSat, m.remote_funding_key, m.remote_per_commit,
      Uint8Array.of(m.option_static_remotekey ? 1 : 0), u64be(m.commit_num), htlcFieldsBytes(m.htlcs, m.feerate));
    const violations = [
      ...commitmentLimits(ctx.policy, channel, { commitNum: m.commit_num, feeratePerKw: m.feerate, htlcs: m.htlcs, fundingSat: s.amountSat }),
      ...counterpartySignRules(c, m.commit_num, digest),
      ...commitmentChainRules(ctx.policy, state.chain, channel, m.htlcs),
      ...htlcPaymentRules(ctx.policy, state, ref, htlcs),
    ];
    return enforce(ctx.policy, violations, () => {
      const sig = signFundingInput(ctx.curve, s, fundingKeys(ctx, ref).funding, m.remote_funding_key);
      const last = c?.counterpartySigned;
      const retry = last !== undefined && last.n === m.commit_num && equal(last.digest, digest);
      const events: SignerEvent[] = retry
        ? []
        : [
            { kind: 'CounterpartyCommitmentSigned', channel: ref, commitNum: m.commit_num, point: m.remote_per_commit, digest },
            ...balanceEvents(channel, ref, m.commit_num, {
              side: 'counterparty', fundingSat: s.amountSat, outputs: s.tx.outputs, htlcs: m.htlcs, toRemoteKey: ctx.keys.channel(ref.peer, ref.dbid).basepoints.payment,
            }),
            ...htlcEvents(ctx.policy, state, ref, 'counterparty', m.commit_num, htlcs),
          ];
      return replyWith(encodeMessage('hsmd_sign_tx_reply', { sig }), events);
    });
  },

  // libhsmd.c handle_sign_remote_htlc_tx: the HTLC key for their point; BOLT 3: with
  // option_anchors SIGHASH_SINGLE|SIGHASH_ANYONECANPAY, else SIGHASH_ALL. It must take
  // BOLT 3's fee from the HTLC (policy-htlc-tx-fee-range): its output is the peer's, or
  // ours if we punish that commitment once revoked. Its locktime is that of an HTLC of the
  // peer's latest commitment (policy-htlc-tx-locktime): the peer's HTLC-timeout is ours to hold back.
  hsmd_sign_remote_htlc_tx: (ctx, state, env, m) => {
    const s = spendingTx(m.tx, false, ctx.curve);
    if (!s.ok) return badRequest(s.why);
    const ref = clientChannel(env);
    const keys = ctx.keys.channel(ref.peer, ref.dbid);
    let priv: Uint8Array;
    try {
      priv = derivePrivateKey(ctx.curve, keys.secrets.htlc, keys.basepoints.htlc, m.remote_per_commit_point);
    } catch {
      return badRequest('Failed deriving htlc privkey');
    }
    try {
      derivePublicKey(ctx.curve, keys.basepoints.htlc, m.remote_per_commit_point);
    } catch {
      return badRequest('Failed deriving htlc pubkey');
    }
    const channel = channelOf(state, ref);
    const spend: SignedHtlcTx = { tx: s.tx, input: 0, inputSat: s.amountSat, anchors: m.option_anchor_outputs, witnessScript: m.wscript };
    const violations = [
      ...counterpartyHtlcRules(channel?.commitments, m.remote_per_commit_point),
      ...htlcTxFeeRange(ctx.policy, channel?.setup, spend),
      ...htlcTxLocktime(ctx.policy, channel, { owner: 'counterparty', point: m.remote_per_commit_point }, spend),
    ];
    return enforce(ctx.policy, violations, () => {
      const sighash = m.option_anchor_outputs ? SIGHASH_SINGLE | SIGHASH_ANYONECANPAY : SIGHASH_ALL;
      return replyWith(encodeMessage('hsmd_sign_tx_reply', { sig: signInput0(ctx.curve, s, m.wscript, priv, sighash) }));
    });
  },

  // libhsmd.c handle_validate_commitment_tx: CLN's stub only returns point n+1 (never the
  // old secret: revoke_commitment_tx releases it). We also check the peer's funding sig.
  hsmd_validate_commitment_tx: (ctx, state, env, m) => {
    const n = m.commit_num;
    if (n + 1n >= MAX_COMMITMENT) return badRequest(`bad per_commit_point ${n + 1n}`);
    const s = spendingTx(m.tx, true, ctx.curve);
    if (!s.ok) return badRequest(s.why);
    const ref = clientChannel(env);
    const channel = channelOf(state, ref);
    const c = channel?.commitments;
    const { keys, funding } = fundingKeys(ctx, ref);
    // The commitment's content, not the peer's signature bytes: a peer that signs the same
    // commitment again after a reconnect may use another nonce, and that is no conflict
    // (the new signature is still checked, policy-commitment-counterparty-signature).
    const digest = requestDigest(s.tx, m.tx.tx, s.amountSat, u64be(n), htlcFieldsBytes(m.htlcs, m.feerate));
    const remoteFunding = channel?.setup?.remoteFundingPubkey;
    const htlcs = seenHtlcs(m.htlcs);
    const violations = [
      ...commitmentLimits(ctx.policy, channel, { commitNum: n, feeratePerKw: m.feerate, htlcs: m.htlcs, fundingSat: s.amountSat }),
      ...holderValidateRules(c, n, digest),
      ...commitmentChainRules(ctx.policy, state.chain, channel, m.htlcs),
      ...htlcPaymentRules(ctx.policy, state, ref, htlcs),
      // Needs setup_channel's remote funding key: skipped without it (docs/hsmd-protocol.md#recorded-facts).
      ...check(remoteFunding === undefined || verifyFundingInput(ctx.curve, s, funding.pub, remoteFunding, m.sig),
        'policy-commitment-counterparty-signature', () => `peer's signature on our commitment ${n} is invalid`),
    ];
    return enforce(ctx.policy, violations, () => {
      const last = c?.holderValidated;
      const retry = last !== undefined && last.n === n && equal(last.digest, digest);
      const events: SignerEvent[] = retry
        ? []
        : [
            { kind: 'HolderCommitmentValidated', channel: ref, commitNum: n, digest },
            { kind: 'HolderCommitmentTxidRecorded', channel: ref, commitNum: n, txid: txid(s.tx) },
            ...(channel?.setup
              ? balanceEvents(channel, ref, n, { side: 'holder', fundingSat: s.amountSat, outputs: s.tx.outputs, htlcs: m.htlcs, toRemoteKey: channel.setup.remoteBasepoints.payment })
              : []),
            ...htlcEvents(ctx.policy, state, ref, 'holder', n, htlcs),
          ];
      const reply = encodeMessage('hsmd_validate_commitment_tx_reply', {
        old_commitment_secret: undefined,
        next_per_commitment_point: keys.perCommitmentPoint(n + 1n),
      });
      return replyWith(reply, events);
    });
  },

  // libhsmd.c handle_revoke_commitment_tx: secret n and point n+2.
  hsmd_revoke_commitment_tx: (ctx, state, env, { commit_num: n }) => {
    if (n + 2n >= MAX_COMMITMENT) return badRequest(`bad per_commit_point ${n + 2n}`);
    const ref = clientChannel(env);
    const c = channelOf(state, ref)?.commitments;
    return enforce(ctx.policy, holderRevokeRules(c, n), () => {
      const keys = ctx.keys.channel(ref.peer, ref.dbid);
      const through = c?.holderRevokedThrough;
      const events: SignerEvent[] =
        through !== undefined && n <= through ? [] : [{ kind: 'HolderCommitmentRevoked', channel: ref, commitNum: n }];
      const reply = encodeMessage('hsmd_revoke_commitment_tx_reply', {
        old_commitment_secret: keys.perCommitmentSecret(n),
        next_per_commitment_point: keys.perCommitmentPoint(n + 2n),
      });
      return replyWith(reply, events);
    });
  },

  // libhsmd.c handle_validate_revocation: CLN's stub accepts anything; we check the secret.
  hsmd_validate_revocation: (ctx, state, env, { revoke_num: n, per_commitment_secret: secret }) => {
    // A number no commitment has, or a secret that is no key, breaks the rules on its own (and
    // is nothing to store): refused by their names, answered like CLN where they only warn.
    const isKey = ctx.curve.isPrivateKey(secret);
    if (n >= MAX_COMMITMENT || !isKey) {
      const violations = [
        ...check(n < MAX_COMMITMENT, 'policy-revocation-order', () => `revocation number ${n} is above 2^48 - 1: no commitment has it`),
        ...check(isKey, 'policy-revocation-secret-matches-point', () => `the secret for ${n} is not a valid key`),
      ];
      return enforce(ctx.policy, violations, () => replyWith(encodeMessage('hsmd_validate_revocation_reply', {})));
    }
    const ref = clientChannel(env);
    const c = channelOf(state, ref)?.commitments;
    const last = c?.secrets.last;
    const isNext = last === undefined || n === last + 1n;
    const chain = isNext ? insertSecret(c?.secrets ?? emptySecretChain, n, secret) : undefined;
    const violations = [
      ...revocationRules(c, n, secret, ctx.curve.publicKey(secret)),
      // BOLT 3 insert_secret: "MUST fail if ... the secret does not derive the earlier ones".
      ...check(!isNext || chain !== undefined, 'policy-revocation-shachain', () => `secret ${n} does not derive the secrets stored`),
    ];
    return enforce(ctx.policy, violations, () => {
      const events: SignerEvent[] =
        isNext && chain !== undefined ? [{ kind: 'CounterpartySecretStored', channel: ref, commitNum: n, secret }] : [];
      return replyWith(encodeMessage('hsmd_validate_revocation_reply', {}), events);
    });
  },

  // libhsmd.c handle_sign_commitment_tx (master only): the transaction lightningd keeps as the
  // channel's last (our latest commitment, or the agreed mutual close), to broadcast it.
  hsmd_sign_commitment_tx: (ctx, state, _env, m) => {
    const s = spendingTx(m.tx, true, ctx.curve);
    if (!s.ok) return badRequest(s.why);
    const ref = { peer: m.peer_id, dbid: m.channel_dbid };
    const { funding } = fundingKeys(ctx, ref);
    const asClose = (): PolicyViolation[] | string => {
      const parsed = readBitcoinTx(m.tx, ctx.curve);
      return typeof parsed === 'string' ? parsed : closeViolations(ctx, state, ref, parsed, fundingScript(funding.pub, m.remote_funding_key));
    };
    const violations = holderSignRules(ctx.policy, channelOf(state, ref)?.commitments, m.commit_num, txid(s.tx), asClose);
    return enforce(ctx.policy, violations, (): Decision => {
      const sig = signFundingInput(ctx.curve, s, funding, m.remote_funding_key);
      return replyWith(encodeMessage('hsmd_sign_commitment_tx_reply', { sig }));
    });
  },
};

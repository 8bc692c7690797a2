/**
 * onchaind's single-input spends of commitment outputs, in both forms: the plain ones
 * (12, 13, 14, 16: the connection's channel, input 0) and lightningd's sign_any_* ones
 * (142, 143, 144, 146: the (peerid, channel_dbid) and input in the message).
 * libhsmd.c do_sign_delayed_payment_to_us, do_sign_remote_htlc_to_us, do_sign_penalty_to_us
 * (all through handle_sign_to_us_tx) and do_sign_local_htlc_tx.
 */
import { badRequest, replyWith, type Decision } from '../decision.js';
import { derivePrivateKey, deriveRevocationPrivateKey } from '../keys/bolt3-keys.js';
import { SIGHASH_ALL, SIGHASH_ANYONECANPAY, SIGHASH_SINGLE } from '../bolt3/sighash.js';
import { enforce } from '../policy/policy.js';
import { feeRange, sweepDestinations } from '../policy/onchain-rules.js';
import { holderHtlcOutput, htlcTxFeeRange, type SignedHtlcTx } from '../policy/htlc-tx-rules.js';
import { htlcTxLocktime } from '../policy/htlc-locktime-rules.js';
import { spentOutput } from '../psbt/sign.js';
import { channelKey, type SignerState } from '../state.js';
import type { BitcoinTx } from '../wire/tx-fields.js';
import type { DecideContext, HandlerTable } from './context.js';
import { allSpent, readBitcoinTx, signInputReply, witnessUpperBound } from './onchain-tx.js';

/** BOLT 3 per-commitment indexes are 48 bits. */
const MAX_COMMITMENT = 1n << 48n;

/** BOLT 3: HTLC transactions of option_anchors commitments use SINGLE|ANYONECANPAY. */
const htlcSighash = (anchors: boolean): number => (anchors ? SIGHASH_SINGLE | SIGHASH_ANYONECANPAY : SIGHASH_ALL);

/** A channel-key derivation that may fail (a tweak giving the zero key, a bad point). */
function derive(f: () => Uint8Array): Uint8Array | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof Error) return undefined;
    throw e;
  }
}

/**
 * handle_sign_to_us_tx: input_num must exist and the tx must have exactly one input; the
 * signature is always for input 0. Before signing, the sweep must pay to us and its fee
 * must be sane (policy-sweep-destination, policy-onchain-fee-range).
 */
function signToUs(ctx: DecideContext, wire: BitcoinTx, input: number, priv: Uint8Array, wscript: Uint8Array, sighash: number): Decision {
  const parsed = readBitcoinTx(wire, ctx.curve);
  if (typeof parsed === 'string') return badRequest(parsed);
  const count = parsed.tx.inputs.length;
  if (input >= count) return badRequest(`bad input ${input} of ${count}`);
  if (count !== 1) return badRequest('bad txinput count');
  const spent = allSpent(parsed.psbt);
  if (typeof spent === 'string') return badRequest(spent);
  const witness = 2 + witnessUpperBound([73, 33, wscript.length]);
  const violations = [...sweepDestinations(ctx, parsed.psbt), ...feeRange(ctx.policy, parsed.psbt, spent, witness)];
  return enforce(ctx.policy, violations, () => {
    const reply = signInputReply(ctx.curve, parsed, 0, wscript, priv, sighash);
    return typeof reply === 'string' ? badRequest(reply) : replyWith(reply);
  });
}

interface Delayed { commit_num: bigint; tx: BitcoinTx; wscript: Uint8Array }
function delayedPaymentToUs(ctx: DecideContext, peer: Uint8Array, dbid: bigint, input: number, m: Delayed): Decision {
  if (m.commit_num >= MAX_COMMITMENT) return badRequest(`bad per_commitment_point ${m.commit_num}`);
  const ch = ctx.keys.channel(peer, dbid);
  // derive_simple_privkey(delayed_payment_basepoint_secret, basepoint, per_commit_point(commit_num))
  const priv = derive(() =>
    derivePrivateKey(ctx.curve, ch.secrets.delayed_payment, ch.basepoints.delayed_payment, ch.perCommitmentPoint(m.commit_num)),
  );
  if (!priv) return badRequest('failed deriving privkey');
  return signToUs(ctx, m.tx, input, priv, m.wscript, SIGHASH_ALL);
}

interface RemoteHtlc { remote_per_commitment_point: Uint8Array; tx: BitcoinTx; wscript: Uint8Array; option_anchor_outputs: boolean }
function remoteHtlcToUs(ctx: DecideContext, peer: Uint8Array, dbid: bigint, input: number, m: RemoteHtlc): Decision {
  const ch = ctx.keys.channel(peer, dbid);
  const priv = derive(() => derivePrivateKey(ctx.curve, ch.secrets.htlc, ch.basepoints.htlc, m.remote_per_commitment_point));
  if (!priv) return badRequest('Failed deriving htlc privkey');
  return signToUs(ctx, m.tx, input, priv, m.wscript, htlcSighash(m.option_anchor_outputs));
}

interface Penalty { revocation_secret: Uint8Array; tx: BitcoinTx; wscript: Uint8Array }
function penaltyToUs(ctx: DecideContext, peer: Uint8Array, dbid: bigint, input: number, m: Penalty): Decision {
  if (!ctx.curve.isPrivateKey(m.revocation_secret)) return badRequest('Failed deriving pubkey');
  const ch = ctx.keys.channel(peer, dbid);
  // derive_revocation_privkey(revocation_basepoint_secret, revocation_secret, …)
  const priv = derive(() => deriveRevocationPrivateKey(ctx.curve, ch.secrets.revocation, m.revocation_secret, ch.basepoints.revocation));
  if (!priv) return badRequest('Failed deriving revocation privkey');
  return signToUs(ctx, m.tx, input, priv, m.wscript, SIGHASH_ALL);
}

interface LocalHtlc { commit_num: bigint; tx: BitcoinTx; wscript: Uint8Array; option_anchor_outputs: boolean }
/**
 * do_sign_local_htlc_tx: our own HTLC-success/timeout tx. Its output must be the one BOLT 3
 * gives it (policy-htlc-tx-holder-output) and carry the HTLC less BOLT 3's fee
 * (policy-htlc-tx-fee-range), its locktime that of an HTLC of our latest commitment
 * (policy-htlc-tx-locktime): CLN signs whatever lightningd put there.
 */
function localHtlcTx(ctx: DecideContext, state: SignerState, peer: Uint8Array, dbid: bigint, input: number, m: LocalHtlc): Decision {
  const parsed = readBitcoinTx(m.tx, ctx.curve);
  if (typeof parsed === 'string') return badRequest(parsed);
  const count = parsed.tx.inputs.length;
  if (input >= count) return badRequest(`bad input ${input} of ${count}`);
  if (m.commit_num >= MAX_COMMITMENT) return badRequest(`bad per_commitment_point ${m.commit_num}`);
  const ch = ctx.keys.channel(peer, dbid);
  const point = ch.perCommitmentPoint(m.commit_num);
  const priv = derive(() => derivePrivateKey(ctx.curve, ch.secrets.htlc, ch.basepoints.htlc, point));
  if (!priv) return badRequest('Failed deriving htlc privkey');
  if (count !== 1) return badRequest('bad txinput count');
  const channel = state.channels.get(channelKey({ peer, dbid }));
  const spend: SignedHtlcTx = {
    tx: parsed.tx, input, inputSat: spentOutput(parsed.psbt, input)?.amountSat, anchors: m.option_anchor_outputs, witnessScript: m.wscript,
  };
  const violations = [
    ...holderHtlcOutput(ctx.curve, channel, { ...spend, perCommitmentPoint: point, delayedPaymentBasepoint: ch.basepoints.delayed_payment }),
    ...htlcTxFeeRange(ctx.policy, channel?.setup, spend),
    ...htlcTxLocktime(ctx.policy, channel, { owner: 'holder', commitNum: m.commit_num }, spend),
  ];
  return enforce(ctx.policy, violations, () => {
    const reply = signInputReply(ctx.curve, parsed, input, m.wscript, priv, htlcSighash(spend.anchors));
    return typeof reply === 'string' ? badRequest(reply) : replyWith(reply);
  });
}

export const sweepHandlers: HandlerTable = {
  hsmd_sign_delayed_payment_to_us: (ctx, _s, env, m) => delayedPaymentToUs(ctx, env.client.peer, env.client.dbid, 0, m),
  hsmd_sign_any_delayed_payment_to_us: (ctx, _s, _e, m) => delayedPaymentToUs(ctx, m.peerid, m.channel_dbid, m.input, m),
  hsmd_sign_remote_htlc_to_us: (ctx, _s, env, m) => remoteHtlcToUs(ctx, env.client.peer, env.client.dbid, 0, m),
  hsmd_sign_any_remote_htlc_to_us: (ctx, _s, _e, m) => remoteHtlcToUs(ctx, m.peerid, m.channel_dbid, m.input, m),
  hsmd_sign_penalty_to_us: (ctx, _s, env, m) => penaltyToUs(ctx, env.client.peer, env.client.dbid, 0, m),
  hsmd_sign_any_penalty_to_us: (ctx, _s, _e, m) => penaltyToUs(ctx, m.peerid, m.channel_dbid, m.input, m),
  hsmd_sign_local_htlc_tx: (ctx, state, env, m) => localHtlcTx(ctx, state, env.client.peer, env.client.dbid, 0, m),
  hsmd_sign_any_local_htlc_tx: (ctx, state, _e, m) => localHtlcTx(ctx, state, m.peerid, m.channel_dbid, m.input, m),
};

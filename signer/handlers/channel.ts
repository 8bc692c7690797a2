/**
 * Channel bookkeeping and per-channel keys that involve no commitment transaction:
 * basepoints, new/setup/forget channel, per-commitment points and secrets, the
 * unilateral-close output script, outpoint checks (libhsmd.c handlers of the same names).
 */
import { equal } from '../bytes.js';
import { hash160 } from '../crypto/signatures.js';
import { badRequest, replyWith } from '../decision.js';
import { derivePrivateKey } from '../keys/bolt3-keys.js';
import { encodeMessage } from '../wire/messages.js';
import type { HandlerTable } from './context.js';
import { enforce } from '../policy/policy.js';
import { forgetChainRules } from '../policy/chain-rules.js';
import { holderShutdownScript } from '../policy/close-rules.js';
import { channelKey, clientChannel } from '../state.js';

/** BOLT 3 per-commitment indexes are 48 bits (derive_basepoints.c per_commit_secret). */
const MAX_COMMITMENT = 1n << 48n;


export const channelHandlers: HandlerTable = {
  hsmd_get_channel_basepoints: (ctx, _s, _e, { peerid, dbid }) => {
    const keys = ctx.keys.channel(peerid, dbid);
    return replyWith(
      encodeMessage('hsmd_get_channel_basepoints_reply', {
        basepoints: keys.basepoints,
        funding_pubkey: keys.fundingPublicKey,
      }),
    );
  },

  hsmd_new_channel: (_c, _s, _e, { id, dbid }) =>
    replyWith(encodeMessage('hsmd_new_channel_reply', {}), [
      { kind: 'ChannelCreated', channel: { peer: id, dbid } },
    ]),

  // policy-holder-shutdown-script here, so that a foreign upfront shutdown script fails the
  // channel open (openingd's connection closes) before any money moves.
  hsmd_setup_channel: (ctx, _s, env, m) =>
    enforce(ctx.policy, holderShutdownScript(ctx, { localShutdownScript: m.local_shutdown_script, localShutdownWalletIndex: m.local_shutdown_wallet_index }), () =>
      replyWith(encodeMessage('hsmd_setup_channel_reply', {}), [
        {
          kind: 'ChannelSetUp',
          channel: clientChannel(env),
          isOutbound: m.is_outbound,
          channelValueSat: m.channel_value,
          pushValueMsat: m.push_value,
          fundingTxid: m.funding_txid,
          fundingTxout: m.funding_txout,
          localToSelfDelay: m.local_to_self_delay,
          localShutdownScript: m.local_shutdown_script,
          localShutdownWalletIndex: m.local_shutdown_wallet_index,
          remoteBasepoints: m.remote_basepoints,
          remoteFundingPubkey: m.remote_funding_pubkey,
          remoteToSelfDelay: m.remote_to_self_delay,
          remoteShutdownScript: m.remote_shutdown_script,
          channelType: m.channel_type,
        },
      ]),
    ),

  hsmd_forget_channel: (ctx, state, _e, { id, dbid }) =>
    enforce(ctx.policy, forgetChainRules(ctx.policy, state.chain, state.channels.get(channelKey({ peer: id, dbid }))), () =>
      replyWith(encodeMessage('hsmd_forget_channel_reply', {}), [
        { kind: 'ChannelForgotten', channel: { peer: id, dbid } },
      ]),
    ),

  hsmd_get_per_commitment_point: (ctx, state, env, { n }) => {
    if (n >= MAX_COMMITMENT) return badRequest(`bad per_commit_point ${n}`);
    const keys = ctx.keys.channel(env.client.peer, env.client.dbid);
    // hsm_version 5 also reveals secret n-2 here; version 6 never does.
    const wireVersion = state.node?.wireVersion ?? 6;
    const old_commitment_secret = wireVersion < 6 && n >= 2n ? keys.perCommitmentSecret(n - 2n) : undefined;
    return replyWith(
      encodeMessage('hsmd_get_per_commitment_point_reply', {
        per_commitment_point: keys.perCommitmentPoint(n),
        old_commitment_secret,
      }),
    );
  },

  hsmd_check_future_secret: (ctx, _s, env, { n, commitment_secret }) => {
    if (n >= MAX_COMMITMENT) return badRequest(`bad commit secret #${n}`);
    const ours = ctx.keys.channel(env.client.peer, env.client.dbid).perCommitmentSecret(n);
    // secret_eq_consttime: `equal` does not stop at the first differing byte.
    return replyWith(encodeMessage('hsmd_check_future_secret_reply', { correct: equal(ours, commitment_secret) }));
  },

  hsmd_get_output_scriptpubkey: (ctx, _s, _e, { channel_id, peer_id, commitment_point }) => {
    // hsm_unilateral_close_privkey: the payment basepoint secret, tweaked by the commitment
    // point unless the channel is static_remotekey (no point).
    const keys = ctx.keys.channel(peer_id, channel_id);
    const priv = commitment_point
      ? derivePrivateKey(ctx.curve, keys.secrets.payment, keys.basepoints.payment, commitment_point)
      : keys.secrets.payment;
    const script = p2wpkh(hash160(ctx.curve.publicKey(priv)));
    return replyWith(encodeMessage('hsmd_get_output_scriptpubkey_reply', { script }));
  },

  // CLN's hsmd does not track the chain: it always answers "buried".
  hsmd_check_outpoint: () => replyWith(encodeMessage('hsmd_check_outpoint_reply', { is_buried: true })),

  hsmd_lock_outpoint: (_c, _s, env, { funding_txid, funding_txout }) =>
    replyWith(encodeMessage('hsmd_lock_outpoint_reply', {}), [
      { kind: 'OutpointLocked', channel: clientChannel(env), txid: funding_txid, vout: funding_txout },
    ]),
};

/** OP_0 <20-byte key hash>. */
const p2wpkh = (keyHash: Uint8Array): Uint8Array => Uint8Array.of(0x00, 0x14, ...keyHash);

/**
 * hsmd messages about one channel: its lifecycle, basepoints, commitment points and secrets,
 * and the signatures on commitment, HTLC, mutual-close and splice transactions.
 * Field names and order: `hsmd/hsmd_wire.csv` of CLN v25.12.1 (docs/hsmd-protocol.md#messages).
 */
import { array16, bool, bytes16, optional, u16, u32, u64 } from './codec.js';
import {
  amountMsat, amountSat, basepoints, bitcoinSignature, bitcoinTxid, channelType, hsmHtlc, nodeId,
  pubkey, secret,
} from './fields.js';
import { bitcoinTx } from './tx-fields.js';
import { msg } from './message-spec.js';

export const CHANNEL_MESSAGES = {
  hsmd_new_channel: msg(30, { id: nodeId, dbid: u64 }),
  hsmd_new_channel_reply: msg(130, {}),
  hsmd_get_channel_basepoints: msg(10, { peerid: nodeId, dbid: u64 }),
  hsmd_get_channel_basepoints_reply: msg(110, { basepoints, funding_pubkey: pubkey }),
  hsmd_setup_channel: msg(31, {
    is_outbound: bool,
    channel_value: amountSat,
    push_value: amountMsat,
    funding_txid: bitcoinTxid,
    funding_txout: u16,
    local_to_self_delay: u16,
    local_shutdown_script: bytes16,
    local_shutdown_wallet_index: optional(u32),
    remote_basepoints: basepoints,
    remote_funding_pubkey: pubkey,
    remote_to_self_delay: u16,
    remote_shutdown_script: bytes16,
    channel_type: channelType,
  }),
  hsmd_setup_channel_reply: msg(131, {}),
  hsmd_check_outpoint: msg(32, { funding_txid: bitcoinTxid, funding_txout: u16 }),
  hsmd_check_outpoint_reply: msg(132, { is_buried: bool }),
  hsmd_lock_outpoint: msg(37, { funding_txid: bitcoinTxid, funding_txout: u16 }),
  hsmd_lock_outpoint_reply: msg(137, {}),
  hsmd_forget_channel: msg(34, { id: nodeId, dbid: u64 }),
  hsmd_forget_channel_reply: msg(134, {}),

  hsmd_get_per_commitment_point: msg(18, { n: u64 }),
  hsmd_get_per_commitment_point_reply: msg(118, {
    per_commitment_point: pubkey,
    old_commitment_secret: optional(secret),
  }),
  hsmd_check_future_secret: msg(22, { n: u64, commitment_secret: secret }),
  hsmd_check_future_secret_reply: msg(122, { correct: bool }),
  hsmd_validate_commitment_tx: msg(35, {
    tx: bitcoinTx,
    htlcs: array16(hsmHtlc),
    commit_num: u64,
    feerate: u32,
    sig: bitcoinSignature,
    htlc_sigs: array16(bitcoinSignature),
  }),
  hsmd_validate_commitment_tx_reply: msg(135, {
    old_commitment_secret: optional(secret),
    next_per_commitment_point: pubkey,
  }),
  hsmd_revoke_commitment_tx: msg(40, { commit_num: u64 }),
  hsmd_revoke_commitment_tx_reply: msg(140, {
    old_commitment_secret: secret,
    next_per_commitment_point: pubkey,
  }),
  hsmd_validate_revocation: msg(36, { revoke_num: u64, per_commitment_secret: secret }),
  hsmd_validate_revocation_reply: msg(136, {}),

  hsmd_sign_commitment_tx: msg(5, {
    peer_id: nodeId,
    channel_dbid: u64,
    tx: bitcoinTx,
    remote_funding_key: pubkey,
    commit_num: u64,
  }),
  hsmd_sign_commitment_tx_reply: msg(105, { sig: bitcoinSignature }),
  hsmd_sign_remote_commitment_tx: msg(19, {
    tx: bitcoinTx,
    remote_funding_key: pubkey,
    remote_per_commit: pubkey,
    option_static_remotekey: bool,
    commit_num: u64,
    htlcs: array16(hsmHtlc),
    feerate: u32,
  }),
  hsmd_sign_remote_htlc_tx: msg(20, {
    tx: bitcoinTx,
    wscript: bytes16,
    remote_per_commit_point: pubkey,
    option_anchor_outputs: bool,
  }),
  hsmd_sign_mutual_close_tx: msg(21, { tx: bitcoinTx, remote_funding_key: pubkey }),
  hsmd_sign_splice_tx: msg(29, { tx: bitcoinTx, remote_funding_key: pubkey, input_index: u32 }),
  /** The reply to 12, 13, 14, 16, 19, 20, 21, 29 and 142..146 (hsmd_wire.csv). */
  hsmd_sign_tx_reply: msg(112, { sig: bitcoinSignature }),
} as const;

/**
 * hsmd messages that spend on-chain outputs: onchaind's sweeps (and lightningd's sign_any_*
 * forms of them), anchor and HTLC-mingle spends, wallet withdrawals, and the scriptPubkey of
 * a unilateral-close output. Field names and order: `hsmd/hsmd_wire.csv` of CLN v25.12.1.
 */
import { array16, bool, bytes16, optional, u32, u64 } from './codec.js';
import { nodeId, pubkey, secret } from './fields.js';
import { bitcoinTx, hsmUtxo, wallyPsbt } from './tx-fields.js';
import { msg } from './message-spec.js';

export const ONCHAIN_MESSAGES = {
  hsmd_sign_delayed_payment_to_us: msg(12, { commit_num: u64, tx: bitcoinTx, wscript: bytes16 }),
  hsmd_sign_remote_htlc_to_us: msg(13, {
    remote_per_commitment_point: pubkey,
    tx: bitcoinTx,
    wscript: bytes16,
    option_anchor_outputs: bool,
  }),
  hsmd_sign_penalty_to_us: msg(14, { revocation_secret: secret, tx: bitcoinTx, wscript: bytes16 }),
  hsmd_sign_local_htlc_tx: msg(16, {
    commit_num: u64,
    tx: bitcoinTx,
    wscript: bytes16,
    option_anchor_outputs: bool,
  }),

  hsmd_sign_any_delayed_payment_to_us: msg(142, {
    commit_num: u64,
    tx: bitcoinTx,
    wscript: bytes16,
    input: u32,
    peerid: nodeId,
    channel_dbid: u64,
  }),
  hsmd_sign_any_remote_htlc_to_us: msg(143, {
    remote_per_commitment_point: pubkey,
    tx: bitcoinTx,
    wscript: bytes16,
    option_anchor_outputs: bool,
    input: u32,
    peerid: nodeId,
    channel_dbid: u64,
  }),
  hsmd_sign_any_penalty_to_us: msg(144, {
    revocation_secret: secret,
    tx: bitcoinTx,
    wscript: bytes16,
    input: u32,
    peerid: nodeId,
    channel_dbid: u64,
  }),
  hsmd_sign_any_local_htlc_tx: msg(146, {
    commit_num: u64,
    tx: bitcoinTx,
    wscript: bytes16,
    option_anchor_outputs: bool,
    input: u32,
    peerid: nodeId,
    channel_dbid: u64,
  }),

  hsmd_sign_anchorspend: msg(147, {
    peerid: nodeId,
    channel_dbid: u64,
    inputs: array16(hsmUtxo),
    psbt: wallyPsbt,
  }),
  hsmd_sign_anchorspend_reply: msg(148, { psbt: wallyPsbt }),
  hsmd_sign_htlc_tx_mingle: msg(149, {
    peerid: nodeId,
    channel_dbid: u64,
    inputs: array16(hsmUtxo),
    psbt: wallyPsbt,
  }),
  hsmd_sign_htlc_tx_mingle_reply: msg(150, { psbt: wallyPsbt }),
  hsmd_sign_withdrawal: msg(7, { inputs: array16(hsmUtxo), psbt: wallyPsbt }),
  hsmd_sign_withdrawal_reply: msg(107, { psbt: wallyPsbt }),

  hsmd_get_output_scriptpubkey: msg(24, {
    channel_id: u64,
    peer_id: nodeId,
    commitment_point: optional(pubkey),
  }),
  hsmd_get_output_scriptpubkey_reply: msg(124, { script: bytes16 }),
} as const;

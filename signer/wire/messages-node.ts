/**
 * hsmd messages about the node as a whole: start-up, clients, status, ECDH, gossip, node
 * and wallet message signing, BOLT 11/12, preapproval and secret derivation.
 * Field names and order: `hsmd/hsmd_wire.csv` of CLN v25.12.1 (docs/hsmd-protocol.md#messages).
 */
import { array16, bool, bytes16, optional, tlvStream, u8, u16, u32, u64, wirestring } from './codec.js';
import {
  amountMsat, bip32KeyVersion, bip340sig, chainparams, ecdsaSignature, extKey, nodeId, privkey,
  pubkey, recoverableSignature, secret, secrets, sha256,
} from './fields.js';
import { msg } from './message-spec.js';

/** `hsmd_dev_preinit_tlvs` (dev flags, set before init). */
export const hsmdDevPreinitTlvs = tlvStream({
  fail_preapprove: { type: 1, codec: bool },
  no_preapprove_check: { type: 3, codec: bool },
  warn_on_overgrind: { type: 5, codec: bool },
});

/** `hsmd_init_tlvs`: the passphrase lightningd got from `--hsm-passphrase`. */
export const hsmdInitTlvs = tlvStream({
  hsm_passphrase: { type: 1, codec: wirestring },
});

/** `hsmd_init_reply_v4_tlvs`: hsm_secret type (0..3, docs/hsmd-protocol.md#init) and the BIP 86 base. */
export const hsmdInitReplyV4Tlvs = tlvStream({
  hsm_secret_type: { type: 1, codec: u8 },
  bip86_base: { type: 2, codec: extKey },
});

export const NODE_MESSAGES = {
  hsmstatus_client_bad_request: msg(1000, { id: nodeId, description: wirestring, msg: bytes16 }),
  hsmd_dev_preinit: msg(99, { tlvs: hsmdDevPreinitTlvs }),
  hsmd_init: msg(11, {
    bip32_key_version: bip32KeyVersion,
    chainparams,
    hsm_encryption_key: optional(secret),
    dev_force_privkey: optional(privkey),
    dev_force_bip32_seed: optional(secret),
    dev_force_channel_secrets: optional(secrets),
    dev_force_channel_secrets_shaseed: optional(sha256),
    hsm_wire_min_version: u32,
    hsm_wire_max_version: u32,
    tlvs: hsmdInitTlvs,
  }),
  hsmd_init_reply_v4: msg(114, {
    hsm_version: u32,
    hsm_capabilities: array16(u32),
    node_id: nodeId,
    bip32: extKey,
    bolt12: pubkey,
    tlvs: hsmdInitReplyV4Tlvs,
  }),
  hsmd_init_reply_failure: msg(115, { error_code: u32, error_message: wirestring }),
  hsmd_client_hsmfd: msg(9, { id: nodeId, dbid: u64, permissions: u64 }),
  hsmd_client_hsmfd_reply: msg(109, {}),
  hsmd_dev_memleak: msg(33, {}),
  hsmd_dev_memleak_reply: msg(133, { leak: bool }),

  hsmd_ecdh_req: msg(1, { point: pubkey }),
  hsmd_ecdh_resp: msg(100, { ss: secret }),

  hsmd_cannouncement_sig_req: msg(2, { ca: bytes16 }),
  hsmd_cannouncement_sig_reply: msg(102, {
    node_signature: ecdsaSignature,
    bitcoin_signature: ecdsaSignature,
  }),
  hsmd_sign_any_cannouncement_req: msg(4, { ca: bytes16, peerid: nodeId, channel_dbid: u64 }),
  hsmd_sign_any_cannouncement_reply: msg(104, {
    node_signature: ecdsaSignature,
    bitcoin_signature: ecdsaSignature,
  }),
  hsmd_cupdate_sig_req: msg(3, { cu: bytes16 }),
  hsmd_cupdate_sig_reply: msg(103, { cu: bytes16 }),
  hsmd_node_announcement_sig_req: msg(6, { announcement: bytes16 }),
  hsmd_node_announcement_sig_reply: msg(106, { signature: ecdsaSignature }),

  hsmd_sign_invoice: msg(8, { u5bytes: bytes16, hrp: bytes16 }),
  hsmd_sign_invoice_reply: msg(108, { sig: recoverableSignature }),
  hsmd_sign_message: msg(23, { msg: bytes16 }),
  hsmd_sign_message_reply: msg(123, { sig: recoverableSignature }),
  hsmd_bip137_sign_message: msg(45, { msg: bytes16, keyidx: u32 }),
  hsmd_bip137_sign_message_reply: msg(145, { sig: recoverableSignature }),
  hsmd_sign_bolt12: msg(25, {
    messagename: wirestring,
    fieldname: wirestring,
    merkleroot: sha256,
    publictweak: bytes16,
  }),
  hsmd_sign_bolt12_reply: msg(125, { sig: bip340sig }),
  hsmd_sign_bolt12_2: msg(41, {
    messagename: wirestring,
    fieldname: wirestring,
    merkleroot: sha256,
    info: bytes16,
    publictweak: bytes16,
  }),
  hsmd_sign_bolt12_2_reply: msg(141, { sig: bip340sig }),
  hsmd_sign_option_will_fund_offer: msg(26, {
    funding_pubkey: pubkey,
    blockheight: u32,
    channel_fee_base_max_msat: u32,
    channel_fee_proportional_basis_max: u16,
  }),
  hsmd_sign_option_will_fund_offer_reply: msg(126, { rsig: ecdsaSignature }),

  hsmd_preapprove_invoice: msg(38, { invstring: wirestring }),
  hsmd_preapprove_invoice_reply: msg(138, { approved: bool }),
  hsmd_preapprove_keysend: msg(39, { destination: nodeId, payment_hash: sha256, amount_msat: amountMsat }),
  hsmd_preapprove_keysend_reply: msg(139, { approved: bool }),
  hsmd_preapprove_invoice_check: msg(51, { invstring: wirestring, check_only: bool }),
  hsmd_preapprove_invoice_check_reply: msg(151, { approved: bool }),
  hsmd_preapprove_keysend_check: msg(52, {
    destination: nodeId,
    payment_hash: sha256,
    amount_msat: amountMsat,
    check_only: bool,
  }),
  hsmd_preapprove_keysend_check_reply: msg(152, { approved: bool }),

  hsmd_derive_secret: msg(27, { info: bytes16 }),
  hsmd_derive_secret_reply: msg(127, { secret }),
  hsmd_check_pubkey: msg(28, { index: u32, pubkey }),
  hsmd_check_pubkey_reply: msg(128, { ok: bool }),
  hsmd_check_bip86_pubkey: msg(56, { index: u32, pubkey }),
  hsmd_check_bip86_pubkey_reply: msg(156, { ok: bool }),
} as const;

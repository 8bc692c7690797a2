/**
 * Node-level requests: node-key ECDH and signatures, wallet key checks, derived secrets
 * (libhsmd.c handle_ecdh, handle_sign_message, handle_bip137_sign_message,
 * handle_sign_invoice, handle_sign_bolt12(_2), handle_derive_secret, handle_check_pubkey,
 * hsmd.c handle_check_bip86_pubkey, handle_sign_option_will_fund_offer).
 */
import { concat, equal, toHex, utf8 } from '../bytes.js';
import { sha256, sha256d, signRecoverableRfc6979, signSchnorrBip340, taggedHash } from '../crypto/signatures.js';
import { badRequest, fatal, replyWith, type Decision } from '../decision.js';
import { encodeMessage } from '../wire/messages.js';
import { WireWriter } from '../wire/writer.js';
import { hashU5 } from './hash-u5.js';
import type { HandlerTable } from './context.js';

const LIGHTNING_SIGNED_MESSAGE = utf8('Lightning Signed Message:');
const BITCOIN_SIGNED_MESSAGE = utf8('\x18Bitcoin Signed Message:\n');
const OPTION_WILL_FUND = utf8('option_will_fund');

/** CLN's text says what differed; the likely cause is said too (lightningd's log is where it lands). */
const ANOTHER_SEED = ": the signer's hsm_secret is not this node's (a device set up with another node's seed?): " +
  "give the signer this node's hsm_secret, or run lightningd on the node that seed belongs to";

/**
 * check_pubkey / check_bip86_pubkey: the fatal reply when `index` is out of range or our key
 * at `index` is not `theirs` (hsmd aborts if lightningd's idea of our wallet differs: both
 * must stop); undefined when they agree.
 */
function walletKeyMismatch(what: 'BIP32' | 'BIP86', index: number, theirs: Uint8Array, derive: (index: number) => Uint8Array): Decision | undefined {
  if (index >= 0x80000000) return fatal('master-io', `Index ${index} too great`);
  const ours = derive(index);
  if (equal(ours, theirs)) return undefined;
  return fatal('internal', `${what} derivation index ${index} differed: they got ${toHex(theirs)}, we got ${toHex(ours)}` + ANOTHER_SEED);
}

export const nodeHandlers: HandlerTable = {
  hsmd_ecdh_req: (ctx, _s, _e, { point }) => {
    // libsecp256k1 secp256k1_ecdh with its default hash: SHA256(compressed shared point).
    let ss: Uint8Array;
    try {
      ss = ctx.curve.ecdh(ctx.keys.nodePrivateKey, point);
    } catch {
      return badRequest('secp256k1_ecdh fail');
    }
    return replyWith(encodeMessage('hsmd_ecdh_resp', { ss }));
  },

  hsmd_derive_secret: (ctx, _s, _e, { info }) =>
    replyWith(encodeMessage('hsmd_derive_secret_reply', { secret: ctx.keys.deriveSecret(info) })),

  hsmd_check_pubkey: (ctx, _s, _e, { index, pubkey }) =>
    walletKeyMismatch('BIP32', index, pubkey, (i) => ctx.keys.walletPublicKey(i)) ?? replyWith(encodeMessage('hsmd_check_pubkey_reply', { ok: true })),

  hsmd_check_bip86_pubkey: (ctx, _s, _e, { index, pubkey }) => {
    if (!ctx.keys.hasBip86) return badRequest('BIP86 derivation requires mnemonic-based HSM secret');
    return walletKeyMismatch('BIP86', index, pubkey, (i) => ctx.keys.bip86PublicKey(i)) ?? replyWith(encodeMessage('hsmd_check_bip86_pubkey_reply', { ok: true }));
  },

  hsmd_sign_message: (ctx, _s, _e, { msg }) => {
    // SHA256d("Lightning Signed Message:" ‖ msg), plain RFC 6979, recoverable.
    const hash = sha256d(concat(LIGHTNING_SIGNED_MESSAGE, msg));
    const sig = signRecoverableRfc6979(ctx.curve, hash, ctx.keys.nodePrivateKey);
    return replyWith(encodeMessage('hsmd_sign_message_reply', { sig }));
  },

  hsmd_bip137_sign_message: (ctx, _s, _e, { msg, keyidx }) => {
    if (keyidx >= 0x80000000) return fatal('master-io', `Index ${keyidx} too great`);
    // BIP 137: SHA256d("\x18Bitcoin Signed Message:\n" ‖ varint(len) ‖ msg).
    const w = new WireWriter(BITCOIN_SIGNED_MESSAGE.length + 9 + msg.length);
    w.bytes(BITCOIN_SIGNED_MESSAGE);
    w.compactBytes(msg);
    const hash = sha256d(w.finish());
    // Mnemonic secrets sign with the BIP86 key of that index, others with the BIP32 one.
    const priv = ctx.keys.hasBip86 ? ctx.keys.bip86PrivateKey(keyidx) : ctx.keys.walletPrivateKey(keyidx);
    const sig = signRecoverableRfc6979(ctx.curve, hash, priv);
    return replyWith(encodeMessage('hsmd_bip137_sign_message_reply', { sig }));
  },

  hsmd_sign_invoice: (ctx, _s, _e, { u5bytes, hrp }) => {
    // BOLT 11: SHA256(hrp ‖ data packed to bytes, zero-padded), recoverable, RFC 6979.
    const hash = hashU5(hrpUntilNul(hrp), u5bytes);
    const sig = signRecoverableRfc6979(ctx.curve, hash, ctx.keys.nodePrivateKey);
    return replyWith(encodeMessage('hsmd_sign_invoice_reply', { sig }));
  },

  hsmd_sign_bolt12: (ctx, _s, _e, { messagename, fieldname, merkleroot, publictweak }) => {
    const sighash = bolt12Sighash(messagename, fieldname, merkleroot);
    let priv = ctx.keys.nodePrivateKey;
    if (publictweak.length > 0) {
      // Payer keys: bolt12 base + SHA256(bolt12 base pubkey ‖ publictweak).
      const tweak = sha256(concat(ctx.keys.bolt12PublicKey, publictweak));
      priv = ctx.curve.privateAdd(ctx.keys.bolt12PrivateKey, tweak);
    }
    const sig = signSchnorrBip340(ctx.curve, sighash, priv);
    return replyWith(encodeMessage('hsmd_sign_bolt12_reply', { sig }));
  },

  hsmd_sign_bolt12_2: (ctx, _s, _e, { messagename, fieldname, merkleroot, info, publictweak }) => {
    const sighash = bolt12Sighash(messagename, fieldname, merkleroot);
    let priv = ctx.keys.nodePrivateKey;
    if (publictweak.length > 0) {
      // Node alias: node key + SHA256(derive_secret(info) ‖ tweakmessage) (bolt12_alias_tweak).
      const tweak = sha256(concat(ctx.keys.deriveSecret(info), publictweak));
      priv = ctx.curve.privateAdd(priv, tweak);
    }
    const sig = signSchnorrBip340(ctx.curve, sighash, priv);
    return replyWith(encodeMessage('hsmd_sign_bolt12_2_reply', { sig }));
  },

  hsmd_sign_option_will_fund_offer: (ctx, _s, _e, msg) => {
    // BOLT 2 (liquidity ads): SHA256("option_will_fund" ‖ funding_pubkey ‖ blockheight ‖
    // fee base ‖ fee proportional), signed by the node key with plain RFC 6979.
    const fields = new Uint8Array(10);
    const view = new DataView(fields.buffer);
    view.setUint32(0, msg.blockheight);
    view.setUint32(4, msg.channel_fee_base_max_msat);
    view.setUint16(8, msg.channel_fee_proportional_basis_max);
    const hash = sha256(concat(OPTION_WILL_FUND, msg.funding_pubkey, fields));
    const rsig = ctx.curve.sign(hash, ctx.keys.nodePrivateKey);
    return replyWith(encodeMessage('hsmd_sign_option_will_fund_offer_reply', { rsig }));
  },
};

/** BOLT 12: H("lightning" ‖ messagename ‖ fieldname, merkle root), BIP 340 tagged. */
const bolt12Sighash = (messagename: string, fieldname: string, merkle: Uint8Array): Uint8Array =>
  taggedHash(utf8('lightning' + messagename + fieldname), merkle);

/** hsmd treats the hrp as a C string: it ends at the first NUL. */
function hrpUntilNul(hrp: Uint8Array): Uint8Array {
  const nul = hrp.indexOf(0);
  return nul < 0 ? hrp : hrp.subarray(0, nul);
}

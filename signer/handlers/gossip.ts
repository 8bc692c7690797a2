/**
 * Gossip signatures (BOLT 7): node_announcement, channel_announcement (from a channeld
 * client, or for any channel from the master) and channel_update. All are signed with
 * CLN's low-R grinding (bitcoin/signature.c sign_hash), as libhsmd.c does.
 */
import { sha256d, signLowR } from '../crypto/signatures.js';
import { badRequest, replyWith } from '../decision.js';
import { encodeMessage } from '../wire/messages.js';
import { decodeChannelUpdate, encodeChannelUpdate } from './channel-update.js';
import type { DecideContext, HandlerTable } from './context.js';

const WIRE_CHANNEL_ANNOUNCEMENT = 256;
const WIRE_NODE_ANNOUNCEMENT = 257;
/** Type (2) and the four signatures (4 × 64) the announcement's hash skips. */
const CHANNEL_ANNOUNCEMENT_SIGNED_FROM = 2 + 256;
/** Type (2) and the one signature (64) the hash skips. */
const SIGNED_FROM = 2 + 64;

const peekType = (msg: Uint8Array): number => (msg.length < 2 ? -1 : (msg[0]! << 8) | msg[1]!);

export const gossipHandlers: HandlerTable = {
  hsmd_node_announcement_sig_req: (ctx, _s, _e, { announcement }) => {
    if (announcement.length < SIGNED_FROM) return badRequest('Node announcement too short');
    if (peekType(announcement) !== WIRE_NODE_ANNOUNCEMENT) return badRequest('Invalid announcement');
    // BOLT 7: "the double-SHA256 of the entire remaining packet after `signature`".
    const signature = signLowR(ctx.curve, sha256d(announcement.subarray(SIGNED_FROM)), ctx.keys.nodePrivateKey);
    return replyWith(encodeMessage('hsmd_node_announcement_sig_reply', { signature }));
  },

  hsmd_cannouncement_sig_req: (ctx, _s, env, { ca }) => {
    const sigs = signChannelAnnouncement(ctx, env.client.peer, env.client.dbid, ca);
    if (typeof sigs === 'string') return badRequest(sigs);
    return replyWith(encodeMessage('hsmd_cannouncement_sig_reply', sigs));
  },

  hsmd_sign_any_cannouncement_req: (ctx, _s, _e, { ca, peerid, channel_dbid }) => {
    const sigs = signChannelAnnouncement(ctx, peerid, channel_dbid, ca);
    if (typeof sigs === 'string') return badRequest(sigs);
    return replyWith(encodeMessage('hsmd_sign_any_cannouncement_reply', sigs));
  },

  hsmd_cupdate_sig_req: (ctx, _s, _e, { cu }) => {
    const update = decodeChannelUpdate(cu);
    if (!update) return badRequest('Bad inner channel_update');
    // The hash covers everything lightningd sent after the signature; the reply is the
    // update re-encoded with our signature (libhsmd.c handle_channel_update_sig).
    const signature = signLowR(ctx.curve, sha256d(cu.subarray(SIGNED_FROM)), ctx.keys.nodePrivateKey);
    return replyWith(encodeMessage('hsmd_cupdate_sig_reply', { cu: encodeChannelUpdate({ ...update, signature }) }));
  },
};

/** Both signatures of a channel_announcement, or the reason it cannot be signed. */
function signChannelAnnouncement(
  ctx: DecideContext,
  peer: Uint8Array,
  dbid: bigint,
  ca: Uint8Array,
): { node_signature: Uint8Array; bitcoin_signature: Uint8Array } | string {
  if (ca.length < CHANNEL_ANNOUNCEMENT_SIGNED_FROM) return `bad cannounce length ${ca.length}`;
  if (peekType(ca) !== WIRE_CHANNEL_ANNOUNCEMENT) return 'Invalid channel announcement';
  // BOLT 7: "the double-SHA256 hash `h` of the message, beginning at offset 256".
  const hash = sha256d(ca.subarray(CHANNEL_ANNOUNCEMENT_SIGNED_FROM));
  return {
    node_signature: signLowR(ctx.curve, hash, ctx.keys.nodePrivateKey),
    bitcoin_signature: signLowR(ctx.curve, hash, ctx.keys.channel(peer, dbid).fundingPrivateKey),
  };
}

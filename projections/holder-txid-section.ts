/**
 * Section 5 of the signer state's snapshot encoding (projections/signer-state.ts): the txids
 * of each channel's validated, unrevoked holder commitments (HolderCommitmentTxidRecorded,
 * policy-commitment-holder-validated), written only when a channel has them recorded, so a
 * state without them encodes as before.
 *   u8 5 ‖ u32 count ‖ (ref ‖ u32 count ‖ (u64 n ‖ bytes txid)*)* in ascending channelKey order
 * An empty list (all revoked) is written: it differs from none ever recorded (the rule skips).
 */
import type { HolderTxid } from '../signer/handlers/commitment-state.js';
import { CodecError, list, readChannelRef, u64, varBytes, writeChannelRef } from '../signer/record-fields.js';
import { struct } from '../signer/wire/codec.js';
import { channelKey, channelState, type ChannelState } from '../signer/state.js';
import type { PersistentMap } from '../signer/persistent-map.js';
import type { WireReader } from '../signer/wire/reader.js';
import type { WireWriter } from '../signer/wire/writer.js';

export const HOLDER_TXID_SECTION = 5;

const txids = list(struct({ n: u64, txid: varBytes }));

/** `channels` in ascending channelKey order. */
export function writeHolderTxidSection(w: WireWriter, channels: readonly ChannelState[]): void {
  const recorded = channels.filter((c) => c.commitments?.holderTxids !== undefined);
  if (recorded.length === 0) return;
  w.u8(HOLDER_TXID_SECTION);
  w.u32(recorded.length);
  for (const c of recorded) {
    writeChannelRef(w, c.ref);
    txids.encode(w, [...c.commitments!.holderTxids!]);
  }
}

export function readHolderTxidSection(r: WireReader, channels: PersistentMap<ChannelState>): PersistentMap<ChannelState> {
  let out = channels;
  for (let i = r.u32(); i > 0; i--) {
    const ref = readChannelRef(r);
    const holderTxids: readonly HolderTxid[] = txids.decode(r);
    const key = channelKey(ref);
    const c = out.get(key);
    if (c?.commitments === undefined) throw new CodecError(`signer state: holder commitment txids for ${key}, a channel without commitments`);
    out = out.set(key, channelState(c.ref, c.setup, c.lockedOutpoints, { ...c.commitments, holderTxids }, c.htlcs));
  }
  return out;
}

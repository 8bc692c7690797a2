/**
 * BOLT 7 channel_update (type 258), as CLN's wire/peer_wire.csv generates it: hsmd parses
 * the update lightningd sends and re-encodes it with its signature, so trailing bytes
 * after htlc_maximum_msat are not carried into the reply.
 */
import { WireReader } from '../wire/reader.js';
import { WireWriter } from '../wire/writer.js';

const WIRE_CHANNEL_UPDATE = 258;

export interface ChannelUpdate {
  readonly signature: Uint8Array;
  readonly chain_hash: Uint8Array;
  readonly short_channel_id: bigint;
  readonly timestamp: number;
  readonly message_flags: number;
  readonly channel_flags: number;
  readonly cltv_expiry_delta: number;
  readonly htlc_minimum_msat: bigint;
  readonly fee_base_msat: number;
  readonly fee_proportional_millionths: number;
  readonly htlc_maximum_msat: bigint;
}

/** The update, or undefined where CLN's fromwire_channel_update fails. */
export function decodeChannelUpdate(bytes: Uint8Array): ChannelUpdate | undefined {
  try {
    const r = new WireReader(bytes);
    if (r.u16() !== WIRE_CHANNEL_UPDATE) return undefined;
    return {
      signature: r.bytes(64),
      chain_hash: r.bytes(32),
      short_channel_id: r.u64(),
      timestamp: r.u32(),
      message_flags: r.u8(),
      channel_flags: r.u8(),
      cltv_expiry_delta: r.u16(),
      htlc_minimum_msat: r.u64(),
      fee_base_msat: r.u32(),
      fee_proportional_millionths: r.u32(),
      htlc_maximum_msat: r.u64(),
    };
  } catch {
    return undefined;
  }
}

export function encodeChannelUpdate(u: ChannelUpdate): Uint8Array {
  const w = new WireWriter();
  w.u16(WIRE_CHANNEL_UPDATE);
  w.bytes(u.signature);
  w.bytes(u.chain_hash);
  w.u64(u.short_channel_id);
  w.u32(u.timestamp);
  w.u8(u.message_flags);
  w.u8(u.channel_flags);
  w.u16(u.cltv_expiry_delta);
  w.u64(u.htlc_minimum_msat);
  w.u32(u.fee_base_msat);
  w.u32(u.fee_proportional_millionths);
  w.u64(u.htlc_maximum_msat);
  return w.finish();
}

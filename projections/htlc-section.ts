/**
 * Section 4 of the signer state's snapshot encoding (projections/signer-state.ts): what
 * policy-htlc-payment-approved remembers (signer/htlc-ledger.ts), written only when a
 * channel has HTLCs or a payment is authorized, so a state without them encodes as before.
 *   u8 4 ‖ u32 count ‖ (ref ‖ htlcs holder ‖ htlcs counterparty)* in ascending channelKey order
 *   ‖ u32 count ‖ (string payment hash hex ‖ u64 at ‖ u64 expiresAt ‖ option(u64 msat))* ascending
 *   htlcs = u32 count ‖ (bool offered ‖ u64 msat ‖ bytes payment hash ‖ u32 cltv)*
 * The index by payment hash is not written: it is rebuilt from the channels' HTLCs.
 */
import { seenHtlc } from '../signer/event-codec.js';
import { indexOf, type AuthorizedPayment, type ChannelHtlcs } from '../signer/htlc-ledger.js';
import { PersistentMap } from '../signer/persistent-map.js';
import { CodecError, list, readChannelRef, readOption, readString, writeChannelRef, writeOption, writeString } from '../signer/record-fields.js';
import { channelKey, withHtlcs, type ChannelState, type SignerState } from '../signer/state.js';
import type { WireReader } from '../signer/wire/reader.js';
import type { WireWriter } from '../signer/wire/writer.js';

export const HTLC_SECTION = 4;

const htlcList = list(seenHtlc);
const ascending = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** `channels` in ascending channelKey order. */
export function writeHtlcSection(w: WireWriter, s: SignerState, channels: readonly ChannelState[]): void {
  const withHtlcs = channels.filter((c) => c.htlcs !== undefined);
  if (withHtlcs.length === 0 && s.authorizedPayments.size === 0) return;
  w.u8(HTLC_SECTION);
  w.u32(withHtlcs.length);
  for (const c of withHtlcs) {
    writeChannelRef(w, c.ref);
    htlcList.encode(w, [...c.htlcs!.holder]);
    htlcList.encode(w, [...c.htlcs!.counterparty]);
  }
  const hashes = [...s.authorizedPayments.keys()].sort(ascending);
  w.u32(hashes.length);
  for (const hash of hashes) {
    const p = s.authorizedPayments.get(hash)!;
    writeString(w, hash);
    w.u64(BigInt(p.at));
    w.u64(BigInt(p.expiresAt));
    writeOption(w, p.amountMsat, (v) => w.u64(v));
  }
}

const seconds = (r: WireReader): number => {
  const v = r.u64();
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CodecError(`signer state: authorization time ${v} is not a unix time in seconds`);
  return Number(v);
};

export function readHtlcSection(r: WireReader, state: SignerState): SignerState {
  let channels = state.channels;
  const recorded: [string, ChannelHtlcs][] = [];
  for (let i = r.u32(); i > 0; i--) {
    const key = channelKey(readChannelRef(r));
    const htlcs = { holder: htlcList.decode(r), counterparty: htlcList.decode(r) };
    const c = channels.get(key);
    if (c === undefined) throw new CodecError(`signer state: HTLCs for ${key}, an unknown channel`);
    channels = channels.set(key, withHtlcs(c, htlcs));
    recorded.push([key, htlcs]);
  }
  let authorizedPayments = PersistentMap.empty<AuthorizedPayment>();
  for (let i = r.u32(); i > 0; i--) {
    const hash = readString(r);
    const at = seconds(r);
    const expiresAt = seconds(r);
    authorizedPayments = authorizedPayments.set(hash, { at, expiresAt, amountMsat: readOption(r, () => r.u64()) });
  }
  return { ...state, channels, authorizedPayments, htlcIndex: indexOf(recorded) };
}

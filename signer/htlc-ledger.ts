/**
 * What policy-htlc-payment-approved (policy/htlc-payment-rules.ts) remembers, folded from
 * journaled events (docs/policies.md#payments-bind-the-commitments):
 * - each channel's HTLCs in its latest holder and counterparty commitment
 *   (CommitmentHtlcsRecorded), kept on the channel (ChannelState.htlcs);
 * - an index of those by payment hash: per channel, the msat we offer and the msat offered to
 *   us under that hash, so a forward (offered to us on one channel, by us on another) and a
 *   payment split over channels are found without visiting every channel;
 * - the payments the device authorized (PaymentAuthorized), by payment hash, with the amount
 *   that was counted against the velocity limit.
 * The index is derived from the channels' HTLCs, so the snapshot stores only those
 * (projections/signer-state.ts rebuilds it). Pure, persistent maps: it runs on the device.
 */
import { toHex } from './bytes.js';
import type { PaymentAuthorized, SeenHtlc } from './events.js';
import { PersistentMap } from './persistent-map.js';

/** The HTLCs of a channel's latest commitments, by side; absent while both are empty. */
export interface ChannelHtlcs {
  readonly holder: readonly SeenHtlc[];
  readonly counterparty: readonly SeenHtlc[];
}

/** One channel's share of a payment hash: the larger of its two commitments' sums. */
export interface ChannelShare {
  readonly channel: string;
  readonly offeredMsat: bigint;
  readonly receivedMsat: bigint;
}

/** A payment the device authorized. `amountMsat` undefined: passed beyond the limit (payee allowlisted, owner approval), no amount bound. */
export interface AuthorizedPayment {
  readonly at: number;
  readonly expiresAt: number;
  readonly amountMsat: bigint | undefined;
}

/**
 * At most this many authorizations are kept. Past it, a new one first forgets those whose
 * window passed and whose HTLCs are gone, then the oldest.
 */
export const MAX_AUTHORIZED_PAYMENTS = 1000;

export const NO_HTLCS: ChannelHtlcs = Object.freeze({ holder: [], counterparty: [] });

interface Sums {
  offeredMsat: bigint;
  receivedMsat: bigint;
}

/** One commitment's HTLC amounts summed by payment hash hex, each way. */
function sumsOf(list: readonly SeenHtlc[]): Map<string, Sums> {
  const out = new Map<string, Sums>();
  for (const x of list) {
    const key = toHex(x.paymentHash);
    let sums = out.get(key);
    if (sums === undefined) out.set(key, (sums = { offeredMsat: 0n, receivedMsat: 0n }));
    if (x.offered) sums.offeredMsat += x.amountMsat;
    else sums.receivedMsat += x.amountMsat;
  }
  return out;
}

/** Shares of one channel's HTLCs, by payment hash hex: each way, the larger of its two commitments' sums. */
function sharesOf(h: ChannelHtlcs): Map<string, Sums> {
  const out = sumsOf(h.holder);
  for (const [key, c] of sumsOf(h.counterparty)) {
    const o = out.get(key);
    if (o === undefined) {
      out.set(key, c);
    } else {
      if (c.offeredMsat > o.offeredMsat) o.offeredMsat = c.offeredMsat;
      if (c.receivedMsat > o.receivedMsat) o.receivedMsat = c.receivedMsat;
    }
  }
  return out;
}

const byChannel = (a: ChannelShare, b: ChannelShare): number => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0);

/**
 * The index with channel `channel`'s shares replaced: from those of `before` to those of
 * `after`. Only the hashes whose share changed are written: a commitment mostly carries the
 * HTLCs of the one before it, and each write copies a path of the persistent map, which a
 * rebuild pays for every commitment it folds.
 */
export function reindex(index: PersistentMap<readonly ChannelShare[]>, channel: string, before: ChannelHtlcs, after: ChannelHtlcs): PersistentMap<readonly ChannelShare[]> {
  const was = sharesOf(before);
  const now = sharesOf(after);
  let out = index;
  const write = (hash: string, share: Sums | undefined): void => {
    const others = (out.get(hash) ?? []).filter((s) => s.channel !== channel);
    const shares = share === undefined ? others : [...others, { channel, offeredMsat: share.offeredMsat, receivedMsat: share.receivedMsat }].sort(byChannel);
    out = shares.length === 0 ? out.delete(hash) : out.set(hash, shares);
  };
  for (const [hash, share] of now) {
    const old = was.get(hash);
    if (old === undefined || old.offeredMsat !== share.offeredMsat || old.receivedMsat !== share.receivedMsat) write(hash, share);
  }
  for (const hash of was.keys()) if (!now.has(hash)) write(hash, undefined);
  return out;
}

/** The index of every channel's HTLCs (a snapshot's channels). */
export function indexOf(channels: Iterable<readonly [string, ChannelHtlcs]>): PersistentMap<readonly ChannelShare[]> {
  let index = PersistentMap.empty<readonly ChannelShare[]>();
  for (const [key, h] of channels) index = reindex(index, key, NO_HTLCS, h);
  return index;
}

/** The authorizations with `event`'s (the latest authorization of a hash replaces an earlier one), within the cap. */
export function authorize(
  authorized: PersistentMap<AuthorizedPayment>,
  index: PersistentMap<readonly ChannelShare[]>,
  event: PaymentAuthorized,
): PersistentMap<AuthorizedPayment> {
  const payment = { at: event.at, expiresAt: event.at + event.windowSec, amountMsat: event.via === 'limit' ? event.amountMsat : undefined };
  let out = authorized.set(toHex(event.paymentHash), payment);
  if (out.size <= MAX_AUTHORIZED_PAYMENTS) return out;
  for (const [hash, p] of out) if (p.expiresAt <= event.at && !index.has(hash)) out = out.delete(hash);
  while (out.size > MAX_AUTHORIZED_PAYMENTS) {
    let oldest: [string, AuthorizedPayment] | undefined;
    for (const e of out) if (oldest === undefined || e[1].at < oldest[1].at || (e[1].at === oldest[1].at && e[0] < oldest[0])) oldest = e;
    out = out.delete(oldest![0]);
  }
  return out;
}

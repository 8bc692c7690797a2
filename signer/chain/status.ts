/**
 * What the device tells the broker about its chain view (docs/remote-protocol.md "Chain"):
 * its tip and latest header hashes (so the broker can find where bitcoind's chain forks
 * from it), the outpoints it watches with their state, and the last refusal. JSON, hashes
 * and txids in display order (as bitcoind prints them).
 */
import type { SignerState } from '../state.js';
import { chainRules, hashHex as displayHex, watchedOutpoints, type ChainRefusal } from './track.js';
import { outpointKey, startView, tipOf } from './view.js';

/** Header hashes reported: more than any reorg the broker will need to find. */
export const STATUS_RECENT_HASHES = 24;

export interface WatchedStatus {
  /** "txid:vout", txid in display order. */
  readonly outpoint: string;
  readonly confirmed: number | null;
  readonly spent: number | null;
}

export interface DeviceChainStatus {
  readonly network: string | null;
  readonly tip: { readonly height: number; readonly hash: string } | null;
  /** Hashes of the latest headers, ascending, the last being the tip. */
  readonly recent: readonly string[];
  readonly watched: readonly WatchedStatus[];
  readonly refused: ChainRefusal | null;
}

export function chainStatusOf(state: SignerState, refused: ChainRefusal | null = null): DeviceChainStatus {
  const rules = chainRules(state);
  const view = state.chain ?? (rules && startView(rules.name));
  const tip = view && tipOf(view);
  const watched = [...watchedOutpoints(state).values()].map(({ txid, vout }) => {
    const s = view?.outpoints.get(outpointKey(txid, vout));
    return { outpoint: `${displayHex(txid)}:${vout}`, confirmed: s?.confirmed?.height ?? null, spent: s?.spent?.height ?? null };
  });
  return {
    network: rules?.name ?? null,
    tip: tip ? { height: tip.height, hash: displayHex(tip.hash) } : null,
    recent: view ? view.recent.slice(-STATUS_RECENT_HASHES).map((k) => displayHex(k.hash)) : [],
    watched,
    refused,
  };
}

export const encodeChainStatus = (s: DeviceChainStatus): Uint8Array => new TextEncoder().encode(JSON.stringify(s));

/** Parses a status; throws an Error naming what is missing. */
export function decodeChainStatus(bytes: Uint8Array): DeviceChainStatus {
  const s = JSON.parse(new TextDecoder().decode(bytes)) as DeviceChainStatus;
  if (typeof s !== 'object' || s === null || !Array.isArray(s.recent) || !Array.isArray(s.watched) || !('tip' in s)) {
    throw new Error('chain status: expected {network, tip, recent, watched, refused}');
  }
  return s;
}

/**
 * The device's view of the chain (docs/chain.md): a window of the latest headers (enough
 * for a bounded reorg and the median-time rule), where the current difficulty period began,
 * and the state of every outpoint it was shown. Folded from chain events (applyChainEvent),
 * so it is a projection of the journal like the rest of the signer state.
 */
import { toHex } from '../bytes.js';
import type { ChainEvent } from '../events.js';
import { parseHeader } from './header.js';
import { NETWORKS, RETARGET_INTERVAL, type NetworkName } from './networks.js';

/** Headers kept: the deepest reorg accepted plus the 11 the median-time rule looks at. */
export const MAX_REORG_DEPTH = 100;
export const MEDIAN_TIME_SPAN = 11;
export const CHAIN_WINDOW = MAX_REORG_DEPTH + MEDIAN_TIME_SPAN;

export interface KnownHeader {
  readonly height: number;
  readonly hash: Uint8Array;
  readonly time: number;
  readonly bits: number;
}

export interface OutpointStatus {
  readonly confirmed: { readonly height: number; readonly blockHash: Uint8Array; readonly valueSat: bigint } | undefined;
  readonly spent: { readonly height: number; readonly blockHash: Uint8Array; readonly txid: Uint8Array } | undefined;
}

export interface ChainView {
  readonly network: NetworkName;
  /** Ascending heights, without gaps; the last is the tip. Never empty. */
  readonly recent: readonly KnownHeader[];
  /** Time of the header that began the current difficulty period, when the device saw it. */
  readonly periodStart: { readonly height: number; readonly time: number } | undefined;
  /** By outpointKey. */
  readonly outpoints: ReadonlyMap<string, OutpointStatus>;
}

/** The key of an outpoint: txid hex in internal order, ":", vout (as lockedOutpoints). */
export const outpointKey = (txid: Uint8Array, vout: number): string => `${toHex(txid)}:${vout}`;

export const tipOf = (view: ChainView): KnownHeader => view.recent[view.recent.length - 1]!;

/** The known header at `height`, if it is in the window. */
export function headerAt(view: ChainView, height: number): KnownHeader | undefined {
  const first = view.recent[0]!.height;
  return height < first ? undefined : view.recent[height - first];
}

/** A view holding only the network's checkpoint. */
export function startView(network: NetworkName): ChainView {
  const { height, header } = NETWORKS[network].checkpoint;
  return {
    network,
    recent: [{ height, hash: header.hash, time: header.time, bits: header.bits }],
    periodStart: height % RETARGET_INTERVAL === 0 ? { height, time: header.time } : undefined,
    outpoints: new Map(),
  };
}

/** Folds one chain event (already checked by decideChain) into the view. */
export function applyChainEvent(view: ChainView, event: ChainEvent): ChainView {
  switch (event.kind) {
    case 'ChainTipAdvanced': {
      const h = parseHeader(event.header);
      const entry: KnownHeader = { height: event.height, hash: h.hash, time: h.time, bits: h.bits };
      const recent = [...view.recent, entry].slice(-CHAIN_WINDOW);
      const periodStart = event.height % RETARGET_INTERVAL === 0 ? { height: event.height, time: h.time } : view.periodStart;
      return { ...view, recent, periodStart };
    }
    case 'ChainReorganized': {
      const recent = view.recent.filter((k) => k.height <= event.forkHeight);
      const periodStart = view.periodStart && view.periodStart.height <= event.forkHeight ? view.periodStart : undefined;
      // What the given-up blocks showed is undone; the new branch shows it again if it holds it.
      const outpoints = new Map<string, OutpointStatus>();
      for (const [key, s] of view.outpoints) {
        outpoints.set(key, {
          confirmed: s.confirmed && s.confirmed.height <= event.forkHeight ? s.confirmed : undefined,
          spent: s.spent && s.spent.height <= event.forkHeight ? s.spent : undefined,
        });
      }
      return { ...view, recent, periodStart, outpoints };
    }
    case 'OutpointConfirmed': {
      const key = outpointKey(event.txid, event.vout);
      const current = view.outpoints.get(key);
      const confirmed = { height: event.height, blockHash: event.blockHash, valueSat: event.valueSat };
      return { ...view, outpoints: new Map(view.outpoints).set(key, { confirmed, spent: current?.spent }) };
    }
    case 'OutpointSpent': {
      const key = outpointKey(event.txid, event.vout);
      const current = view.outpoints.get(key);
      const spent = { height: event.height, blockHash: event.blockHash, txid: event.spendingTxid };
      return { ...view, outpoints: new Map(view.outpoints).set(key, { confirmed: current?.confirmed, spent }) };
    }
  }
}

/** Confirmations of a block at `height` seen from the tip (1 for the tip itself). */
export const depthOf = (view: ChainView, height: number): number => tipOf(view).height - height + 1;

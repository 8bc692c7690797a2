/**
 * What the XS chain lane (test/device-xs-chain.test.ts) runs under XS and on Node: the device's
 * chain update path (firmware/app/chain-sync.ts, a DeviceChain over a SignerCore whose journal
 * is in memory) shown a recorded chain between a recorded session's requests, as the device
 * is. Device code only: it is bundled for XS (test/device-bundle.ts); its input and its result
 * are plain data (they cross to XS and back as JSON).
 */
import { SignerCore } from '../core/signer-core.js';
import { DeviceChain } from '../firmware/app/chain-sync.js';
import { openJournalFiles } from '../log/journal/journal.js';
import { SOURCED_RECORD_TAG } from '../log/journal/record.js';
import { MemoryDir } from '../log/memory-file.js';
import { fromHex, toHex } from '../signer/bytes.js';
import { hashHex } from '../signer/chain/track.js';
import { type ChainView, tipOf } from '../signer/chain/view.js';
import { encodeReply } from '../signer/event-codec.js';
import { type DeviceReplay, makeSigner } from '../bench/device-heap-entry.js';

/** A request of the session (its recorded reply as signer/event-codec.ts encodes it), or a chain message. */
export type ChainFollowStep =
  | { readonly kind: 'request'; readonly id: string; readonly peer: string; readonly dbid: string; readonly permissions: string; readonly at: number; readonly req: string; readonly reply: string }
  | { readonly kind: 'chain'; readonly atMs: number; readonly payload: string };

/** The signer's settings (DeviceReplay's, without a transcript) and the steps, in order. */
export interface ChainFollow extends Omit<DeviceReplay, 'exchanges'> {
  readonly steps: readonly ChainFollowStep[];
}

/** What one chain message did. */
export interface ChainShown {
  /** The refusal's name, or null. */
  readonly refused: string | null;
  /** The journal's sourced records it made (hex, as the journal holds them: the events in the event codec). */
  readonly records: readonly string[];
  /** The tip after it (hash in display order), or null before hsmd_init. */
  readonly tip: { readonly height: number; readonly hash: string } | null;
  /** The chain status the device publishes in answer (hex of its JSON). */
  readonly status: string;
}

export interface OutpointSeen {
  readonly confirmed: { readonly height: number; readonly blockHash: string; readonly valueSat: string } | null;
  readonly spent: { readonly height: number; readonly blockHash: string; readonly txid: string } | null;
}

export interface ChainFollowResult {
  /** Requests whose reply differs from the recording. */
  readonly mismatches: string[];
  /** One per chain step, in order. */
  readonly shown: ChainShown[];
  /** Every outpoint of the final chain view, by its key (signer/chain/view.ts outpointKey). */
  readonly outpoints: Record<string, OutpointSeen>;
}

export function followChain(run: ChainFollow): ChainFollowResult {
  let durable: Uint8Array[] = [];
  const observer = { recovered: () => {}, durable: (payloads: readonly Uint8Array[]) => durable.push(...payloads), snapshotting: () => {} };
  const { core } = SignerCore.open(openJournalFiles(new MemoryDir()), (state) => makeSigner({ ...run, exchanges: [] }, state), { observer });
  const chain = new DeviceChain(core);
  const mismatches: string[] = [];
  const shown: ChainShown[] = [];
  for (const step of run.steps) {
    if (step.kind === 'request') {
      const client = { peer: fromHex(step.peer), dbid: BigInt(step.dbid), permissions: BigInt(step.permissions) };
      const got = toHex(encodeReply(core.handle({ id: BigInt(step.id), client, at: step.at, message: fromHex(step.req) }).reply));
      if (got !== step.reply) mismatches.push(`id ${step.id}: expected ${step.reply}, got ${got}`);
      continue;
    }
    durable = [];
    const result = chain.handle(fromHex(step.payload), step.atMs);
    const view = core.state.chain;
    const tip = view && tipOf(view);
    shown.push({
      refused: result.refused?.name ?? null,
      records: durable.filter((p) => p[0] === SOURCED_RECORD_TAG).map(toHex),
      tip: tip ? { height: tip.height, hash: hashHex(tip.hash) } : null,
      status: toHex(result.status),
    });
  }
  return { mismatches, shown, outpoints: outpointsSeen(core.state.chain) };
}

/** Every outpoint of a chain view as plain data. */
export function outpointsSeen(view: ChainView | undefined): Record<string, OutpointSeen> {
  const outpoints: Record<string, OutpointSeen> = {};
  for (const [key, s] of view?.outpoints ?? []) {
    outpoints[key] = {
      confirmed: s.confirmed ? { height: s.confirmed.height, blockHash: hashHex(s.confirmed.blockHash), valueSat: String(s.confirmed.valueSat) } : null,
      spent: s.spent ? { height: s.spent.height, blockHash: hashHex(s.spent.blockHash), txid: hashHex(s.spent.txid) } : null,
    };
  }
  return outpoints;
}

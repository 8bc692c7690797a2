/**
 * The chain follower's one step (docs/chain.md "Broker"): from what the device reports
 * (its tip, latest hashes and watched outpoints) and what bitcoind has, the next chain
 * message for the device, or nothing when it is up to date:
 * - where bitcoind's chain leaves the device's (its tip, or the highest of its reported
 *   hashes bitcoind still has: a reorg), then up to `maxHeaders` headers from there;
 * - for each of those blocks, when the device watches anything, every transaction that
 *   creates or spends a watched outpoint, with gettxoutproof's proof;
 * - a watched outpoint the device has not seen confirmed but bitcoind has unspent in a block
 *   the device has (gettxout), with its proof.
 */
import { readTx, txid as txidOf } from '../../signer/bolt3/tx.js';
import type { DeviceChainStatus } from '../../signer/chain/status.js';
import type { ChainUpdate } from '../../signer/chain/updates.js';
import { MAX_REORG_DEPTH } from '../../signer/chain/view.js';
import { hashHex as display } from '../../signer/chain/track.js';
import { fromHex } from '../../signer/bytes.js';
import { WireReader } from '../../signer/wire/reader.js';
import { RPC_INVALID_PARAMETER, RpcError, type BitcoindRpc } from './bitcoind-rpc.js';

export const DEFAULT_MAX_HEADERS = 144;

/** The RPC calls the follower makes (BitcoindRpc, or anything answering like it). */
export type ChainRpc = Pick<BitcoindRpc, 'getBlockCount' | 'getBlockHash' | 'getBlockHeaderHex' | 'getBlockHex' | 'getTxOutProof' | 'getTxOut'>;

export interface NextMessage {
  readonly updates: ChainUpdate[];
  /** bitcoind's height when asked. */
  readonly bitcoindHeight: number;
  /** A reorg the device's reported hashes cannot place (deeper than it reported). */
  readonly problem?: string;
}

async function hashAt(rpc: ChainRpc, height: number): Promise<string | undefined> {
  try {
    return await rpc.getBlockHash(height);
  } catch (e) {
    if (e instanceof RpcError && e.code === RPC_INVALID_PARAMETER) return undefined; // above bitcoind's tip
    throw e;
  }
}

/** The height above which bitcoind's chain differs from the device's, or a problem. */
async function forkHeight(rpc: ChainRpc, status: DeviceChainStatus): Promise<number | string> {
  const tip = status.tip!;
  const first = tip.height - status.recent.length + 1;
  for (let h = tip.height; h >= first; h--) {
    if ((await hashAt(rpc, h)) === status.recent[h - first]) return h;
  }
  return `bitcoind's chain does not contain any of the device's last ${status.recent.length} headers (tip ${tip.height} ${tip.hash}): ` +
    `a reorg deeper than the device can take (at most ${MAX_REORG_DEPTH}) or another network`;
}

export async function nextChainMessage(rpc: ChainRpc, status: DeviceChainStatus, maxHeaders = DEFAULT_MAX_HEADERS): Promise<NextMessage> {
  const bitcoindHeight = await rpc.getBlockCount();
  if (!status.tip) return { updates: [], bitcoindHeight, problem: 'the device has no chain view yet (hsmd_init not seen)' };
  const fork = await forkHeight(rpc, status);
  if (typeof fork === 'string') return { updates: [], bitcoindHeight, problem: fork };
  const watched = new Set(status.watched.map((w) => w.outpoint));
  const updates: ChainUpdate[] = [];
  const last = Math.min(bitcoindHeight, fork + maxHeaders);
  if (last > fork) {
    const headers: Uint8Array[] = [];
    const txs: ChainUpdate[] = [];
    for (let h = fork + 1; h <= last; h++) {
      const hash = await rpc.getBlockHash(h);
      headers.push(fromHex(await rpc.getBlockHeaderHex(hash)));
      if (watched.size > 0) txs.push(...(await watchedTransactions(rpc, h, hash, watched)));
    }
    updates.push({ kind: 'headers', firstHeight: fork + 1, headers }, ...txs);
  }
  // Outpoints the device started watching after their block was shown (a setup_channel
  // racing the block that confirms it), from what the device already has.
  // Blocks above the fork are scanned above.
  updates.push(...(await unseenConfirmations(rpc, status, bitcoindHeight, fork)));
  return { updates, bitcoindHeight };
}

/** The transactions of block `hash` that create or spend a watched outpoint, with proofs. */
async function watchedTransactions(rpc: ChainRpc, height: number, hash: string, watched: ReadonlySet<string>): Promise<ChainUpdate[]> {
  const block = fromHex(await rpc.getBlockHex(hash));
  const updates: ChainUpdate[] = [];
  const header = new WireReader(block, 80);
  const count = header.compactSize();
  let pos = header.offset;
  for (let i = 0; i < count; i++) {
    const { tx, end } = readTx(block, pos);
    const raw = block.slice(pos, end);
    pos = end;
    const id = display(txidOf(tx));
    const touches = tx.outputs.some((_, vout) => watched.has(`${id}:${vout}`)) || tx.inputs.some((input) => watched.has(`${display(input.prevTxid)}:${input.prevVout}`));
    if (touches) updates.push({ kind: 'transaction', height, proof: fromHex(await rpc.getTxOutProof([id], hash)), tx: raw });
  }
  return updates;
}

/** Watched outpoints the device has not seen confirmed that bitcoind has unspent, in a block the device has up to `fork`. */
async function unseenConfirmations(rpc: ChainRpc, status: DeviceChainStatus, bitcoindHeight: number, fork: number): Promise<ChainUpdate[]> {
  const tip = status.tip!;
  const updates: ChainUpdate[] = [];
  for (const w of status.watched) {
    if (w.confirmed !== null) continue;
    const [txid, vout] = w.outpoint.split(':') as [string, string];
    const out = await rpc.getTxOut(txid, Number(vout));
    if (!out || out.confirmations < 1) continue;
    const height = bitcoindHeight - out.confirmations + 1;
    if (height > fork || height <= tip.height - status.recent.length) continue; // scanned above, or the device cannot check it
    const hash = await rpc.getBlockHash(height);
    updates.push(...(await watchedTransactions(rpc, height, hash, new Set([w.outpoint]))));
  }
  return updates;
}


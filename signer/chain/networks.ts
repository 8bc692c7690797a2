/**
 * What the device knows of each network before it is shown anything (docs/chain.md): the
 * header it starts from (a checkpoint: a recent block on mainnet and testnet, else the genesis), the proof-of-work
 * limit and which difficulty rules apply. The network is the one hsmd_init names by its
 * chain hash (the genesis block's hash).
 */
import { equal, fromHex } from '../bytes.js';
import { parseHeader, type BlockHeader } from './header.js';

export type NetworkName = 'bitcoin' | 'testnet' | 'signet' | 'regtest';

export interface NetworkRules {
  readonly name: NetworkName;
  /** The easiest target a header may claim (consensus.powLimit). */
  readonly powLimit: bigint;
  /** Regtest: the target never changes (fPowNoRetargeting). */
  readonly noRetargeting: boolean;
  /** Testnet: a block more than 20 minutes after its parent may use powLimit (fPowAllowMinDifficultyBlocks). */
  readonly minDifficultyBlocks: boolean;
  /** The genesis block's hash: hsmd_init names the network by it. */
  readonly genesisHash: Uint8Array;
  /** The header the chain starts from, its height and its median time past. */
  readonly checkpoint: Checkpoint;
}

export interface Checkpoint {
  readonly height: number;
  readonly header: BlockHeader;
  /**
   * The median of the times of the checkpoint and the 10 headers before it (Bitcoin Core's
   * GetMedianTimePast), which the device does not keep: the floor of the time rule until
   * it holds 11 headers of its own (docs/chain.md "Checkpoints"). The genesis has no
   * headers before it: its own time.
   */
  readonly medianTimePast: number;
}

/** Blocks per difficulty period and the period's intended duration (two weeks). */
export const RETARGET_INTERVAL = 2016;
export const TARGET_TIMESPAN = 14 * 24 * 60 * 60;

const ones = (hexPrefix: string): bigint => BigInt(`0x${hexPrefix.padEnd(64, 'f')}`);

// Genesis headers: version 1, no parent, the genesis coinbase's merkle root, and each
// network's time, bits and nonce (Bitcoin Core chainparams.cpp CreateGenesisBlock calls).
const GENESIS_MERKLE_ROOT = '3ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a';
function genesis(time: number, bits: number, nonce: number): BlockHeader {
  const raw = new Uint8Array(80);
  const v = new DataView(raw.buffer);
  v.setUint32(0, 1, true);
  raw.set(fromHex(GENESIS_MERKLE_ROOT), 36);
  v.setUint32(68, time, true);
  v.setUint32(72, bits, true);
  v.setUint32(76, nonce, true);
  return parseHeader(raw);
}

/**
 * Checkpoints above the genesis (docs/chain.md "Checkpoints"): blocks whose hash Bitcoin
 * Core's chainparams names for that height (its assumeutxo snapshots), so the device checks
 * the headers after them, not the ones before. Mainnet: block 840,000 (April 2024);
 * testnet (3): block 2,500,000 (September 2023). Signet and regtest start at their genesis.
 */
const MAINNET_840000: Checkpoint = {
  height: 840_000,
  header: parseHeader(fromHex(
    '00e05f2aab948491071265ad552351d0ad625745668da54b017201000000000000000000' +
    '4f89a5d73bd4d4887f25981fe81892ccafda10c27f52d6f3dd28183a7c411b03b7072366194203177d9863ea',
  )),
  medianTimePast: 1713570208,
};
const TESTNET_2500000: Checkpoint = {
  height: 2_500_000,
  header: parseHeader(fromHex(
    '0040d233f19856480a9c59d27f00b0721bc6dc3e51d309e1992230059401000000000000' +
    'b45e555f780df0301bed92a4b0fb0dcdbc8868f4a143eac63d55a1c79c91394f42950365fcff031a7210489e',
  )),
  medianTimePast: 1694733257,
};

const network = (name: NetworkName, powLimit: bigint, flags: Pick<NetworkRules, 'noRetargeting' | 'minDifficultyBlocks'>, first: BlockHeader, checkpoint?: Checkpoint): NetworkRules =>
  ({ name, powLimit, ...flags, genesisHash: first.hash, checkpoint: checkpoint ?? { height: 0, header: first, medianTimePast: first.time } });

export const NETWORKS: Readonly<Record<NetworkName, NetworkRules>> = {
  bitcoin: network('bitcoin', ones('00000000'), { noRetargeting: false, minDifficultyBlocks: false }, genesis(1231006505, 0x1d00ffff, 2083236893), MAINNET_840000),
  testnet: network('testnet', ones('00000000'), { noRetargeting: false, minDifficultyBlocks: true }, genesis(1296688602, 0x1d00ffff, 414098458), TESTNET_2500000),
  signet: network('signet', BigInt('0x00000377ae'.padEnd(66, '0')), { noRetargeting: false, minDifficultyBlocks: false }, genesis(1598918400, 0x1e0377ae, 52613770)),
  regtest: network('regtest', ones('7'), { noRetargeting: true, minDifficultyBlocks: false }, genesis(1296688602, 0x207fffff, 2)),
};

/** The network whose genesis hash is hsmd_init's chain hash (internal order), if any. */
export function networkOfChainHash(chainHash: Uint8Array): NetworkRules | undefined {
  return Object.values(NETWORKS).find((n) => equal(n.genesisHash, chainHash));
}


/**
 * The headers the device starts from (docs/chain.md "Checkpoints"): each network is named
 * by its genesis hash; a checkpoint above the genesis hashes to the hash Bitcoin Core's
 * chainparams names for its height, carries its proof of work, the next real header (where
 * one is recorded) follows it and nothing below it replaces it; testnet's 20-minute rule
 * applies from it; right after a checkpoint the time rule uses the checkpoint's median time
 * past (shown on the recorded regtest chain, bitcoinjs-lib parsing its times).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { Block } from 'bitcoinjs-lib';
import { replayChainSession } from '../../test/chain-session.js';
import { display, forged, headerBytes, recordedChain } from '../../test/recorded-chain.js';
import { fromHex } from '../bytes.js';
import { apply as applyEvent } from '../state.js';
import { headerFault } from './difficulty.js';
import { bitsToTarget, hashToBigInt, parseHeader, targetToBits, type BlockHeader } from './header.js';
import { NETWORKS, type NetworkName, type NetworkRules } from './networks.js';
import { decideChain } from './track.js';
import type { ChainUpdate } from './updates.js';
import { applyChainEvent, tipOf, type ChainView } from './view.js';

const chain = recordedChain();
const headers = (firstHeight: number, ...hs: Uint8Array[]): ChainUpdate => ({ kind: 'headers', firstHeight, headers: hs });

/** A node right after hsmd_init (recorded session l1), on `network` instead of regtest. */
function initializedOn(network: NetworkName) {
  const { state } = replayChainSession('l1', { chain: false, untilId: 0n }).signer;
  return { ...state, node: { ...state.node!, chainHash: NETWORKS[network].genesisHash } };
}

function refusalOf(state: ReturnType<typeof initializedOn>, updates: ChainUpdate[]): string {
  const d = decideChain(state, updates);
  return d.ok ? 'accepted' : d.refusal.name;
}

/** bitcoinjs-lib's reading of an 80-byte header (it wants a transaction count after it). */
const parsedByBitcoinjs = (header: Uint8Array): Block => Block.fromBuffer(Buffer.concat([Buffer.from(header), Buffer.of(0)]));

/** bitcoinjs-lib's hash of a header made of the device's parsed fields. */
function idByBitcoinjs(h: BlockHeader): string {
  const b = new Block();
  Object.assign(b, { version: h.version, prevHash: h.prevHash, merkleRoot: h.merkleRoot, timestamp: h.time, bits: h.bits, nonce: h.nonce });
  return b.getId();
}

test('each network is named by its genesis hash, the one Bitcoin Core names; regtest and signet start there', () => {
  assert.equal(display(NETWORKS.regtest.checkpoint.header.hash), chain[0]!.hash);
  assert.equal(display(NETWORKS.bitcoin.genesisHash), '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f');
  assert.equal(display(NETWORKS.testnet.genesisHash), '000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943');
  assert.equal(display(NETWORKS.signet.genesisHash), '00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6');
  for (const n of [NETWORKS.regtest, NETWORKS.signet]) {
    assert.deepEqual([n.checkpoint.height, n.checkpoint.header.hash, n.checkpoint.medianTimePast], [0, n.genesisHash, n.checkpoint.header.time]);
  }
  for (const n of Object.values(NETWORKS)) {
    const { header, medianTimePast } = n.checkpoint;
    assert.equal(idByBitcoinjs(header), display(header.hash), `${n.name}: the checkpoint's fields hash (bitcoinjs-lib) to its hash`);
    assert.ok(hashToBigInt(header.hash) <= bitsToTarget(header.bits)!, `${n.name}: the checkpoint carries its proof of work`);
    assert.ok(bitsToTarget(header.bits)! <= n.powLimit);
    assert.ok(medianTimePast <= header.time, `${n.name}: a median time past is at most the block's own time`);
  }
});

// Mainnet block 840,001, which links to 840,000 and carries its own work.
const BLOCK_840001 = fromHex('04002020a583da1c3ff29b687248ff737822f8ce4827033a282003000000000000000000' +
  'bcc07f8618b7b063f833100724e2b40d6ee9dfa78087bfbe5d3441058a63de380e082366194203176d9026cc');

test('mainnet starts at block 840,000 (the hash Bitcoin Core names): the next real header is its tip; one without its work, or from below the checkpoint, is refused', () => {
  const { height, header } = NETWORKS.bitcoin.checkpoint;
  assert.equal(height, 840_000);
  // chainparams.cpp m_assumeutxo_data, height 840,000.
  assert.equal(display(header.hash), '0000000000000000000320283a032748cef8227873ff4872689bf23f1cda83a5');
  assert.equal(display(new Uint8Array(parsedByBitcoinjs(BLOCK_840001).prevHash!)), display(header.hash), '840,001 (parsed by bitcoinjs-lib) links to it');
  const mainnet = initializedOn('bitcoin');
  const next = decideChain(mainnet, [headers(840_001, BLOCK_840001)]);
  assert.ok(next.ok, next.ok ? '' : next.refusal.detail);
  const s = next.events.reduce(applyEvent, mainnet);
  assert.deepEqual([tipOf(s.chain!).height, display(tipOf(s.chain!).hash)], [840_001, '00000000000000000001b48a75d5a3077913f3f441eb7e08c13c43f768db2463']);
  const nonce = BLOCK_840001.slice();
  nonce[79]! ^= 1;
  assert.equal(refusalOf(mainnet, [headers(840_001, nonce)]), 'chain-header-bad-pow');
  assert.equal(refusalOf(mainnet, [headers(1, headerBytes(chain[1]!))]), 'chain-reorg-too-deep', 'nothing below the checkpoint replaces it');
});

// Headers at the minimum difficulty (nBits 0x1d00ffff, testnet's powLimit) with block
// 2,500,000's version and merkle root, their nonces ground for this test: on 2,500,000, one
// 20 minutes and 1 second after it (testnet's 20-minute rule allows the minimum) and one
// exactly 20 minutes after it (the rule does not; its version's low byte 4, where the nonces
// ran out); on the first, one a second later (the rule does not: it must carry the last
// normal nBits, 2,500,000's).
const MIN_DIFFICULTY_LATE = fromHex('0040d2336f20731d23f9cda2ebeaa248d3722525ae68a1a9038cb6bc9300000000000000' +
  'b45e555f780df0301bed92a4b0fb0dcdbc8868f4a143eac63d55a1c79c91394ff3990365ffff001d592a8cde');
const MIN_DIFFICULTY_ON_TIME = fromHex('0440d2336f20731d23f9cda2ebeaa248d3722525ae68a1a9038cb6bc9300000000000000' +
  'b45e555f780df0301bed92a4b0fb0dcdbc8868f4a143eac63d55a1c79c91394ff2990365ffff001d51416aa2');
const MIN_DIFFICULTY_AFTER_MINIMUM = fromHex('0040d233ebc16efee9e6e9643b8b2519b33a6b341d48a3e556f3b8170d5ff5d400000000' +
  'b45e555f780df0301bed92a4b0fb0dcdbc8868f4a143eac63d55a1c79c91394ff4990365ffff001d31c389ba');

test('testnet (3) starts at block 2,500,000 (the hash Bitcoin Core names); its 20-minute rule applies from there; nothing below it replaces it', () => {
  const { height, header, medianTimePast } = NETWORKS.testnet.checkpoint;
  assert.equal(height, 2_500_000);
  // chainparams.cpp m_assumeutxo_data, height 2,500,000.
  assert.equal(display(header.hash), '0000000000000093bcb68c03a9a168ae252572d348a2eaeba2cdf9231d73206f');
  assert.ok(medianTimePast < header.time);
  // A block of normal difficulty: the 20-minute rule's walk back to the last such block stops at it.
  const minimum = targetToBits(NETWORKS.testnet.powLimit);
  assert.equal(minimum, 0x1d00ffff);
  assert.notEqual(header.bits, minimum);
  assert.equal(header.bits, 0x1a03fffc);

  const late = parsedByBitcoinjs(MIN_DIFFICULTY_LATE);
  const parents = [[MIN_DIFFICULTY_LATE, header.hash, header.time + 20 * 60 + 1], [MIN_DIFFICULTY_ON_TIME, header.hash, header.time + 20 * 60], [MIN_DIFFICULTY_AFTER_MINIMUM, new Uint8Array(late.getHash()), late.timestamp + 1]] as const;
  for (const [raw, parent, time] of parents) {
    const b = parsedByBitcoinjs(raw);
    assert.ok(b.checkProofOfWork(), 'bitcoinjs-lib: the ground header meets its target');
    assert.equal(display(new Uint8Array(b.prevHash!)), display(parent));
    assert.deepEqual([b.bits, b.timestamp], [minimum, time]);
  }

  const testnet = initializedOn('testnet');
  const accepted = decideChain(testnet, [headers(2_500_001, MIN_DIFFICULTY_LATE)]);
  assert.ok(accepted.ok, accepted.ok ? '' : accepted.refusal.detail);
  const s = accepted.events.reduce(applyEvent, testnet);
  assert.equal(display(tipOf(s.chain!).hash), late.getId());
  for (const [state, height, raw] of [[testnet, 2_500_001, MIN_DIFFICULTY_ON_TIME], [s, 2_500_002, MIN_DIFFICULTY_AFTER_MINIMUM]] as const) {
    const d = decideChain(state, [headers(height, raw)]);
    assert.deepEqual(d.ok ? 'accepted' : [d.refusal.name, /expected 0x1a03fffc$/.test(d.refusal.detail)], ['chain-header-bad-difficulty', true], d.ok ? '' : d.refusal.detail);
  }
  assert.equal(refusalOf(testnet, [headers(1, headerBytes(chain[1]!))]), 'chain-reorg-too-deep', 'nothing below the checkpoint replaces it');
});

test('right after a checkpoint above the genesis, the time rule uses its median time past: the recorded regtest chain followed from block 111 as if it were one', () => {
  // Bitcoin Core's median time past at 111: the median of the times of blocks 101 to 111 (bitcoinjs-lib).
  const times = chain.slice(101, 112).map((b) => b.block.timestamp).sort((a, b) => a - b);
  const at111 = { height: 111, header: parseHeader(headerBytes(chain[111]!)), medianTimePast: times[5]! };
  const rules: NetworkRules = { ...NETWORKS.regtest, checkpoint: at111 };
  const start: ChainView = {
    network: 'regtest',
    recent: [{ height: 111, hash: at111.header.hash, time: at111.header.time, bits: at111.header.bits }],
    periodStart: undefined,
    outpoints: new Map(),
  };
  // Block 112 has the same time as 111: above the median time past, so Core takes it.
  assert.equal(chain[112]!.block.timestamp, at111.header.time);
  assert.ok(chain[112]!.block.timestamp > at111.medianTimePast);
  let view = start;
  for (const b of chain.slice(112)) {
    const fault = headerFault(rules, view, b.height, parseHeader(headerBytes(b)));
    assert.equal(fault, undefined, `block ${b.height}: ${fault?.detail}`);
    view = applyChainEvent(view, { kind: 'ChainTipAdvanced', height: b.height, header: headerBytes(b) });
  }
  assert.equal(display(tipOf(view).hash), chain.at(-1)!.hash);
  // A header at the median time past itself is not after it.
  const atMedian = parseHeader(forged(chain[112]!.block, (x) => (x.timestamp = at111.medianTimePast), true));
  assert.equal(headerFault(rules, start, 112, atMedian)?.name, 'chain-header-bad-time');
  assert.equal(headerFault(rules, start, 112, parseHeader(forged(chain[112]!.block, (x) => (x.timestamp = at111.medianTimePast + 1), true))), undefined);
});

test('testnet rules, after more minimum-difficulty blocks in a row than the window holds: nBits checked only against powLimit, not refused for want of the normal ones (on the recorded regtest headers, regtest\'s powLimit as the minimum)', () => {
  const rules: NetworkRules = { ...NETWORKS.testnet, powLimit: NETWORKS.regtest.powLimit };
  const minimum = targetToBits(rules.powLimit);
  const window = chain.slice(1, 112);
  assert.ok(window.every((b) => b.block.bits === minimum && b.height % 2016 !== 0), 'every header in the window at the minimum, none beginning a period');
  const view: ChainView = {
    network: 'testnet',
    recent: window.map((b) => ({ height: b.height, hash: new Uint8Array(b.block.getHash()), time: b.block.timestamp, bits: b.block.bits })),
    periodStart: undefined,
    outpoints: new Map(),
  };
  const harder = parseHeader(forged(chain[112]!.block, (x) => (x.bits = 0x203fffff), true));
  assert.equal(headerFault(rules, view, 112, harder), undefined);
  const easier = parseHeader(forged(chain[112]!.block, (x) => (x.bits = 0x2100ffff), true));
  assert.equal(headerFault(rules, view, 112, easier)?.name, 'chain-header-bad-pow', 'easier than powLimit');
});

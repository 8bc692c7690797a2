/**
 * The XS lane for chain tracking (docs/chain.md "Under XS"): when SPHINX_XST names an XS
 * engine (test/xs-engine.ts), the device's chain update path (test/xs-chain-entry.ts: a
 * DeviceChain over a SignerCore) is shown the recorded regtest chain between a recorded
 * session's requests, block by block as the Node replay (test/chain-session.ts) showed it,
 * under XS and on Node. Both must give the same result: every reply the recording's, after
 * each block that block as the tip (height and hash from the recorded chain), the same chain
 * journal records and status payloads byte for byte (their events those of the Node replay),
 * and every funding outpoint confirmed and spent at the heights bitcoinjs-lib finds. Every
 * kind of bad input is refused by the same name under XS with nothing journaled, and a
 * 2-block reorg journals the same ChainReorganized. Without an engine these tests do not
 * apply and say so.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { CHAIN_SOURCE } from '../firmware/app/chain-sync.js';
import { decodeSourced } from '../log/journal/record.js';
import { fromHex, toHex } from '../signer/bytes.js';
import { decideChain } from '../signer/chain/track.js';
import { encodeChainUpdates, type ChainUpdate } from '../signer/chain/updates.js';
import { outpointKey } from '../signer/chain/view.js';
import { encodeEvents } from '../signer/event-codec.js';
import type { ChainEvent } from '../signer/events.js';
import { badChainInputs, headersUpdate, REORG_UNTIL_ID, reorgScenario, replayChainSession, type ShownBlock } from './chain-session.js';
import { headerBytes, internal, recordedChain, recordedSession, sessionFundings } from './recorded-chain.js';
import { SESSION_ALLOWLIST } from './session-records.js';
import { ESP32_SETTINGS, NO_XST, runUnderXs, xsEngine, xsPrint, xstPath } from './xs-engine.js';
import { followChain, outpointsSeen, type ChainFollow, type ChainFollowResult, type ChainFollowStep, type ChainShown } from './xs-chain-entry.js';

type SessionNode = 'l1' | 'l2';
const path = xstPath();
const chain = recordedChain();

/** When block `height` is shown (ms): once its header's second has passed, as the Node replay shows it. */
const shownAt = (height: number): number => (chain[height]!.block.timestamp + 1) * 1000;

const chainStep = (payload: Uint8Array, atMs: number): ChainFollowStep => ({ kind: 'chain', atMs, payload: toHex(payload) });

/** Node `node`'s session (through request `untilId`), each block shown where the Node replay showed it. */
function sessionSteps(node: SessionNode, shown: readonly ShownBlock[], untilId?: bigint): ChainFollowStep[] {
  const blocksBefore = (id: bigint | undefined) => shown.filter((s) => s.beforeId === id).map((s) => chainStep(encodeChainUpdates(s.updates), shownAt(s.height)));
  const steps: ChainFollowStep[] = [];
  for (const ex of recordedSession(node).exchanges) {
    if (untilId !== undefined && ex.id > untilId) break;
    const { peer, dbid, permissions } = ex.client;
    steps.push(...blocksBefore(ex.id), { kind: 'request', id: String(ex.id), peer: toHex(peer), dbid: String(dbid), permissions: String(permissions), at: Math.floor(ex.at / 1000), req: toHex(ex.message), reply: toHex(ex.reply) });
  }
  return [...steps, ...blocksBefore(undefined)];
}

/** The device's settings on the ESP32, with the node's secret and allowlist (as the Node replay's policy). */
function deviceFollow(node: SessionNode, steps: ChainFollowStep[]): ChainFollow {
  const { nobleWindow, keyCaches } = ESP32_SETTINGS;
  const allowlist = SESSION_ALLOWLIST[`session-basic-${node}.jsonl`] ?? [];
  return { hsmSecret: toHex(recordedSession(node).hsmSecret), developer: false, nobleWindow, keyCaches, allowlist, steps };
}

/** The run under XS and on Node, which must be equal; the engine's version for diagnostics. */
async function followBoth(follow: ChainFollow): Promise<{ version: string; result: ChainFollowResult }> {
  const engine = await xsEngine(path!);
  const xs = await runUnderXs(engine, 'test/xs-chain-entry.ts', {
    'follow.js': `globalThis.follow = ${JSON.stringify(follow)};\n`,
    'run.js': xsPrint('result', 'deviceEntry.followChain(globalThis.follow)'),
  });
  const result = xs.printed<ChainFollowResult>('result');
  assert.deepEqual(result, followChain(follow), `${engine.version}: the device's chain path gives other results under XS than on Node`);
  return { version: engine.version, result };
}

/** A chain message's journal records are one sourced record of `events`, in the event codec, or none without events. */
function assertRecords(shown: ChainShown, events: readonly ChainEvent[], what: string): void {
  if (events.length === 0) return assert.deepEqual(shown.records, [], `${what}: nothing journaled`);
  assert.equal(shown.records.length, 1, what);
  const record = decodeSourced(fromHex(shown.records[0]!));
  assert.equal(record.source, CHAIN_SOURCE);
  assert.deepEqual(record.events, events, what);
  assert.ok(shown.records[0]!.endsWith(toHex(encodeEvents(events))), `${what}: the record carries the events as the event codec encodes them`);
}

const tipAt = (height: number) => ({ height, hash: chain[height]!.hash });
const XS_TIMEOUT = 300_000;

for (const node of ['l1', 'l2'] as const) {
  test(`${node}: under XS the device follows the recorded chain block by block as on Node: tips, journal records, outpoints`, { skip: path ? false : NO_XST, timeout: XS_TIMEOUT }, async (t) => {
    const replay = replayChainSession(node, { chain: true });
    const { version, result } = await followBoth(deviceFollow(node, sessionSteps(node, replay.shown)));
    assert.deepEqual(result.mismatches, []);
    assert.equal(result.shown.length, chain.length - 1, 'every block after the genesis shown once');
    result.shown.forEach((shown, i) => {
      const { height, events } = replay.shown[i]!;
      assert.equal(shown.refused, null, `block ${height}`);
      assert.deepEqual(shown.tip, tipAt(height), `the tip after block ${height}`);
      assertRecords(shown, events, `block ${height}`);
    });
    assert.deepEqual(result.shown.at(-1)!.tip, tipAt(chain.length - 1));
    const funded = sessionFundings(node);
    assert.equal(funded.length, 2);
    for (const { key, txid, vout, mined, spent } of funded) {
      assert.equal(result.outpoints[key]?.confirmed?.height, mined, `${txid}:${vout} confirmed`);
      assert.equal(result.outpoints[key]?.confirmed?.blockHash, chain[mined]!.hash);
      assert.equal(result.outpoints[key]?.spent?.height, spent, `${txid}:${vout} spent`);
      assert.equal(result.outpoints[key]?.spent?.blockHash, chain[spent]!.hash);
    }
    assert.deepEqual(result.outpoints, outpointsSeen(replay.signer.state.chain!), "the Node replay's outpoints");
    const kinds = replay.chainEvents.map((e) => e.kind);
    const count = (k: string) => kinds.filter((x) => x === k).length;
    t.diagnostic(`${version}: ${result.shown.length} chain messages, ${count('ChainTipAdvanced')} ChainTipAdvanced, ${count('OutpointConfirmed')} OutpointConfirmed, ${count('OutpointSpent')} OutpointSpent, identical to Node`);
  });
}

test('under XS every kind of bad chain input is refused by the same name with nothing journaled, and a 2-block reorg is journaled as on Node', { skip: path ? false : NO_XST, timeout: XS_TIMEOUT }, async (t) => {
  const { state, shown, updates, branch, funding } = reorgScenario();
  const { 'chain-not-initialized': beforeInit, ...bad } = badChainInputs();
  // The encoder refuses a 79-byte header; on the wire that update is a one-header message a byte short.
  const wire = (name: string, u: ChainUpdate[]) => (name === 'chain-update-malformed' ? encodeChainUpdates([headersUpdate(105, headerBytes(chain[105]!))]).subarray(0, -1) : encodeChainUpdates(u));
  const badNames = Object.keys(bad);
  const steps = [
    chainStep(encodeChainUpdates(beforeInit.updates), shownAt(1)),
    ...sessionSteps('l1', shown, REORG_UNTIL_ID),
    ...Object.entries(bad).map(([name, b]) => chainStep(wire(name, b.updates), shownAt(104))),
    chainStep(encodeChainUpdates(updates), (branch[2]!.timestamp + 1) * 1000),
  ];
  const { version, result } = await followBoth(deviceFollow('l1', steps));
  assert.deepEqual(result.mismatches, []);
  const [first, ...rest] = result.shown;
  assert.deepEqual([first!.refused, first!.records, first!.tip], ['chain-not-initialized', [], null]);
  const followed = rest.slice(0, shown.length);
  followed.forEach((s, i) => {
    assert.equal(s.refused, null);
    assert.deepEqual(s.tip, tipAt(shown[i]!.height));
    assertRecords(s, shown[i]!.events, `block ${shown[i]!.height}`);
  });
  const refused = rest.slice(shown.length, shown.length + badNames.length);
  assert.deepEqual(refused.map((s) => s.refused), badNames, 'each refused by its name');
  for (const s of refused) assert.deepEqual([s.records, s.tip], [[], tipAt(104)]);
  const reorg = rest.at(-1)!;
  const expected = decideChain(state, updates);
  assert.ok(expected.ok);
  assert.equal(expected.events[0]!.kind, 'ChainReorganized');
  assert.equal(reorg.refused, null);
  assertRecords(reorg, expected.events, 'the reorg');
  assert.deepEqual(reorg.tip, { height: 105, hash: branch[2]!.getId() });
  assert.deepEqual(result.outpoints[outpointKey(internal(funding.getId()), 0)]?.confirmed, { height: 104, blockHash: branch[1]!.getId(), valueSat: String(funding.outs[0]!.value) });
  t.diagnostic(`${version}: ${badNames.length + 1} bad inputs refused by name, the reorg's ${expected.events.length} events journaled, identical to Node`);
});

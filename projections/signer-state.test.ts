/**
 * The SignerState projection on session-basic-l1 through a live Signer: replaying the
 * events it emitted gives the live state (same digest), from the start and from a
 * snapshot taken after any request; the snapshot encoding is stable (encode ∘ decode is
 * the identity on bytes) and independent of map insertion order; unknown versions refused.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { toHex } from '../signer/bytes.js';
import { CodecError } from '../signer/record-fields.js';
import type { SignerEvent } from '../signer/events.js';
import { PersistentMap } from '../signer/persistent-map.js';
import { apply, initialState, type SignerState } from '../signer/state.js';
import { WireWriter } from '../signer/wire/writer.js';
import { liveSession } from '../test/session-records.js';
import {
  decodeSnapshotBody,
  decodeState,
  encodeSnapshotBody,
  encodeState,
  replayEvents,
  stateDigest,
} from './signer-state.js';

const l1 = liveSession('session-basic-l1.jsonl');
const l2 = liveSession('session-basic-l2.jsonl');
const batches = l1.decisions.map((d) => d.decision);

test('replaying session-basic-l1\'s events from the start gives the live signer\'s state', () => {
  const replayed = replayEvents(batches);
  assert.equal(toHex(stateDigest(replayed)), toHex(stateDigest(l1.signer.state)));
  assert.deepEqual(replayed, l1.signer.state);
  assert.notEqual(toHex(stateDigest(replayed)), toHex(stateDigest(initialState)));
  // Before the channel is forgotten, its commitment history is in the replayed state.
  const forgotten = batches.findIndex((d) => d.events.some((e) => e.kind === 'ChannelForgotten'));
  const [channel] = [...replayEvents(batches.slice(0, forgotten)).channels.values()];
  assert.equal(channel?.commitments?.counterpartySigned?.n, 16n);
  assert.equal(channel?.commitments?.secrets.last, 15n);
});

test('replay from a snapshot after every request equals the live state; encode(decode(x)) is stable', () => {
  let state: SignerState = initialState;
  for (let k = 0; k < batches.length; k++) {
    state = replayEvents([batches[k]!], state);
    const bytes = encodeState(state);
    const decoded = decodeState(bytes);
    assert.deepEqual(encodeState(decoded), bytes, `after request ${k + 1}`);
    assert.deepEqual(decoded, state, `after request ${k + 1}`);
    if (k % 16 === 0) {
      const resumed = replayEvents(batches.slice(k + 1), decoded);
      assert.deepEqual(stateDigest(resumed), stateDigest(l1.signer.state), `snapshot after request ${k + 1}`);
    }
  }
});

test('the encoding does not depend on the order maps and sets were filled in', () => {
  // Both sessions' channels in one state (each before its ChannelForgotten).
  const open = (s: typeof l1) => s.decisions.flatMap((d) => d.decision.events).filter((e) => e.kind !== 'ChannelForgotten');
  const both = [...open(l1), ...open(l2)].reduce(apply, initialState);
  assert.equal(both.channels.size, 2);
  const reversed: SignerState = { ...both, channels: PersistentMap.from([...both.channels].reverse()) };
  assert.deepEqual(encodeState(reversed), encodeState(both));
  assert.deepEqual(decodeState(encodeState(both)), both);
});

test('the velocity window encodes one entry per second, ascending; an older listing (each payment) reads the same', () => {
  const paid = (at: number, amountMsat: bigint): SignerEvent => ({ kind: 'PaymentAuthorized', at, amountMsat, paymentHash: new Uint8Array(32), via: 'limit', windowSec: 3600 });
  // Without the authorizations policy-htlc-payment-approved keeps (their own section, after
  // this one), the device section ends the encoding: u32 count ‖ (u64 at ‖ u64 msat)*.
  const state = { ...[paid(200, 1n), paid(100, 2n), paid(200, 4n)].reduce(apply, initialState), authorizedPayments: initialState.authorizedPayments };
  const bytes = encodeState(state);
  const tail = (entries: [number, bigint][]) => {
    const w = new WireWriter();
    w.u32(entries.length);
    for (const [at, msat] of entries) {
      w.u64(BigInt(at));
      w.u64(msat);
    }
    return w.finish();
  };
  const perSecond = tail([[100, 2n], [200, 5n]]);
  assert.deepEqual(bytes.subarray(bytes.length - perSecond.length), perSecond);
  const head = bytes.subarray(0, bytes.length - perSecond.length);
  const older = Uint8Array.from([...head, ...tail([[200, 1n], [100, 2n], [200, 4n]])]);
  assert.deepEqual(decodeState(older), state);
  const tooLate = Uint8Array.from([...head, ...tail([[100, 2n], [2 ** 53, 5n]])]);
  assert.throws(() => decodeState(tooLate), (e) => e instanceof CodecError && /payment time 9007199254740992 is not a unix time in seconds/.test(e.message));
});

test('snapshot body round-trips with recent replies and source numbers; unknown versions are refused by name', () => {
  const recent = l1.decisions.slice(-3).map((d) => ({ id: d.envelope.id, requestDigest: new Uint8Array(32).fill(7), reply: d.decision.reply }));
  const sources = new Map([['control', 3n], ['chain', 12n]]);
  const body = encodeSnapshotBody({ state: l1.signer.state, recent, sources });
  const back = decodeSnapshotBody(body);
  assert.deepEqual(back.recent, recent);
  assert.deepEqual(back.sources, sources);
  // Version 1 (before sourced records) ends after the replies and has no sources.
  const v1 = encodeSnapshotBody({ state: l1.signer.state, recent, sources: new Map() }).slice(0, -4);
  v1[0] = 1;
  assert.deepEqual(decodeSnapshotBody(v1), { state: back.state, recent, sources: new Map() });
  assert.deepEqual(stateDigest(back.state), stateDigest(l1.signer.state));
  const v9 = encodeState(initialState);
  v9[0] = 9;
  assert.throws(() => decodeState(v9), new CodecError('signer state: unknown version 9 (this build reads version 1)'));
  const b9 = body.slice();
  b9[0] = 9;
  assert.throws(() => decodeSnapshotBody(b9), new CodecError('snapshot: unknown version 9 (this build reads versions 1 and 2)'));
});

test('every state, channel and commitment state the fold makes, or a snapshot decodes, has one shape: the same keys in the same order', () => {
  // docs/journal.md "Rebuild": the fold is fast because these objects never differ in shape.
  const keysOf = (o: object): string => Object.keys(o).join(',');
  const shapes = { state: new Set<string>(), channel: new Set<string>(), commitments: new Set<string>() };
  const record = (s: SignerState): void => {
    shapes.state.add(keysOf(s));
    for (const c of s.channels.values()) {
      shapes.channel.add(keysOf(c));
      if (c.commitments) shapes.commitments.add(keysOf(c.commitments));
    }
  };
  let state = initialState;
  for (const d of [...batches, ...l2.decisions.map((x) => x.decision)]) {
    for (const e of d.events) {
      state = apply(state, e);
      record(state);
      record(decodeState(encodeState(state)));
    }
  }
  assert.deepEqual([shapes.state.size, shapes.channel.size, shapes.commitments.size], [1, 1, 1], JSON.stringify({ ...shapes, state: [...shapes.state], channel: [...shapes.channel], commitments: [...shapes.commitments] }));
  assert.equal([...shapes.state][0], keysOf(initialState));
});

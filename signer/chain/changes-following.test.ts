/**
 * changesFollowing (signer/chain/track.ts) against the recordings: every event of every
 * recorded CLN session, folded one at a time, changes followedKey only if its kind is one
 * changesFollowing names, so the device, which compares what the broker follows only after
 * such events (firmware/app/device.ts), misses no change. And the recordings do exercise it:
 * init, setup and forget each change what is followed.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import type { ChannelCreated, SignerEvent } from '../events.js';
import { Signer } from '../signer.js';
import { apply, type SignerState } from '../state.js';
import { sessionRequests, sessionSignerOptions } from '../../test/session-records.js';
import { changesFollowing, followedKey } from './track.js';

const SESSIONS = ['session-basic-l1.jsonl', 'session-basic-l2.jsonl', 'hsmd-basic-legacy.jsonl', 'hsmd-basic-mnemonic.jsonl'];

/** Each session's events in order, with the state before each. */
function foldedEvents(name: string): { before: SignerState; event: SignerEvent }[] {
  const signer = new Signer(sessionSignerOptions(name));
  const out: { before: SignerState; event: SignerEvent }[] = [];
  for (const { envelope } of sessionRequests(name)) {
    let state = signer.state;
    const { events } = signer.decide(envelope);
    for (const event of events) {
      out.push({ before: state, event });
      state = apply(state, event);
    }
    signer.apply(events);
  }
  return out;
}

test('in every recorded session, an event that changes what the broker follows is one changesFollowing names', () => {
  const changed = new Set<string>();
  for (const name of SESSIONS) {
    for (const { before, event } of foldedEvents(name)) {
      if (followedKey(apply(before, event)) === followedKey(before)) continue;
      changed.add(event.kind);
      assert.ok(changesFollowing(event), `${name}: ${event.kind} changed what is followed`);
    }
  }
  assert.deepEqual([...changed].sort(), ['ChannelForgotten', 'ChannelSetUp', 'NodeInitialized']);
});

test('new_channel for a dbid lightningd reuses clears the channel\'s setup: what is followed changes, and changesFollowing says so', () => {
  const events = foldedEvents('session-basic-l1.jsonl');
  const created = events.find((e) => e.event.kind === 'ChannelCreated')!.event as ChannelCreated;
  // The state after setup_channel, before the session's close forgets the channel.
  const setUp = events.findIndex((e) => e.event.kind === 'ChannelSetUp');
  const state = events.slice(setUp).reduce((s, e) => (e.event.kind === 'ChannelForgotten' ? s : apply(s, e.event)), events[setUp]!.before);
  assert.notEqual(followedKey(state), followedKey(events[setUp]!.before), 'the setup is followed');
  assert.notEqual(followedKey(apply(state, created)), followedKey(state));
  assert.ok(changesFollowing(created));
});

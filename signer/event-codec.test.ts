/**
 * The event codec on real decisions: every event and reply a live Signer produces for the
 * recorded sessions (plus dev_preinit, a warn-only policy, a bad request and a fatal init,
 * so that every kind occurs) round-trips to an equal value, re-encodes to the same bytes,
 * and an unknown version, kind tag or reply tag is refused by name.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { liveSession, sessionPolicy, sessionSignerOptions } from '../test/session-records.js';
import { reorgScenario, replayChainSession } from '../test/chain-session.js';
import { toHex } from './bytes.js';
import { decideChain } from './chain/track.js';
import type { Decision, Reply } from './decision.js';
import {
  EVENT_CODEC_VERSION,
  EVENT_TAGS,
  REPLY_TAGS,
  decodeEvents,
  decodeReply,
  encodeEvents,
  encodeReply,
} from './event-codec.js';
import { CodecError } from './record-fields.js';
import type { SignerEvent } from './events.js';
import { decideCommand } from './control/commands.js';
import { DEFAULT_POLICY } from './policy/policy.js';
import { Signer } from './signer.js';
import { encodeMessage } from './wire/messages.js';

const MASTER = { peer: new Uint8Array(33), dbid: 0n, permissions: 0xffffn };

/** Every decision of the sessions and of the extra real requests below. */
function realDecisions(): Decision[] {
  const decisions: Decision[] = [];
  for (const name of ['session-basic-l1.jsonl', 'session-basic-l2.jsonl']) {
    decisions.push(...liveSession(name).decisions.map((d) => d.decision));
  }
  // A feerate ceiling at the floor, demoted to a warning: commitments emit PolicyWarned.
  const warned = { ...DEFAULT_POLICY, maxFeeratePerKw: 253, warnOnly: new Set(['policy-feerate-range'] as const) };
  decisions.push(...liveSession('session-basic-l1.jsonl', warned).decisions.map((d) => d.decision));
  const options = sessionSignerOptions('session-basic-l1.jsonl');
  const dev = new Signer({ ...options, developer: true });
  const preinit = encodeMessage('hsmd_dev_preinit', { tlvs: { fail_preapprove: true, warn_on_overgrind: true } });
  decisions.push(dev.handle({ id: 1n, client: MASTER, at: 0, message: preinit }));
  decisions.push(dev.handle({ id: 2n, client: MASTER, at: 0, message: Uint8Array.of(0xff, 0xfe) }));
  // hsm_secret of a length CLN refuses: init_reply_failure then status_failed.
  const broken = new Signer({ ...options, readHsmSecret: () => new Uint8Array(17) });
  const init = liveSession('session-basic-l1.jsonl').decisions.find((d) => d.envelope.message[1] === 11)!;
  decisions.push(broken.handle(init.envelope));
  // Chain events: l2 following its recorded chain, and a 2-block reorg on l1's.
  decisions.push({ events: replayChainSession('l2', { chain: true }).chainEvents, reply: { kind: 'none' } });
  const reorg = reorgScenario();
  const reorged = decideChain(reorg.state, reorg.updates);
  if (reorged.ok) decisions.push({ events: reorged.events, reply: { kind: 'none' } });
  // Payment velocity at 5,000 sat: the session's larger preapprovals refused (PolicyRefused).
  decisions.push(...liveSession('session-basic-l1.jsonl', { ...sessionPolicy('session-basic-l1.jsonl'), velocityLimitSat: 5000n }).decisions.map((d) => d.decision));
  // Control commands on the session's final state: a policy change and a one-time approval.
  const state = liveSession('session-basic-l1.jsonl').signer.state;
  const control = { deviceId: '02' + '00'.repeat(32), state, policy: DEFAULT_POLICY, network: undefined, now: 0 };
  for (const [nonce, command, args] of [[1n, 'limits-set', { velocityLimitSat: 1000 }], [2n, 'approve', { paymentHash: '22'.repeat(32) }]] as const)
    decisions.push({ ...decideCommand(control, { device: control.deviceId, nonce, command, args }), reply: { kind: 'none' } });
  return decisions;
}

const decisions = realDecisions();

test('every SignerEvent kind and every Reply kind occurs in the real decisions', () => {
  const kinds = new Set(decisions.flatMap((d) => d.events.map((e) => e.kind)));
  assert.deepEqual([...kinds].sort(), Object.keys(EVENT_TAGS).sort());
  const replies = new Set(decisions.map((d) => d.reply.kind));
  assert.deepEqual([...replies].sort(), Object.keys(REPLY_TAGS).sort());
});

test('events round-trip: decode(encode(x)) equals x and re-encodes to the same bytes', () => {
  for (const { events } of decisions) {
    const bytes = encodeEvents(events);
    const back = decodeEvents(bytes);
    assert.deepEqual(back, events);
    assert.deepEqual(encodeEvents(back), bytes);
  }
  const all: SignerEvent[] = decisions.flatMap((d) => d.events);
  assert.deepEqual(decodeEvents(encodeEvents(all)), all);
});

test('a channel reference equal to the one decoded before it is that same object (a rebuild copies and keys it once)', () => {
  const withChannel = decisions.flatMap((d) => d.events).filter((e): e is Extract<SignerEvent, { channel: unknown }> => 'channel' in e);
  const decoded = decodeEvents(encodeEvents(withChannel)) as typeof withChannel;
  assert.deepEqual(decoded, withChannel);
  for (let i = 1; i < decoded.length; i++) {
    const same = toHex(withChannel[i]!.channel.peer) === toHex(withChannel[i - 1]!.channel.peer) && withChannel[i]!.channel.dbid === withChannel[i - 1]!.channel.dbid;
    assert.equal(decoded[i]!.channel === decoded[i - 1]!.channel, same, `event ${i}`);
  }
  const other = { ...withChannel[0]!, channel: { ...withChannel[0]!.channel, dbid: withChannel[0]!.channel.dbid + 1n } };
  const [a, b] = decodeEvents(encodeEvents([withChannel[0]!, other])) as typeof withChannel;
  assert.notEqual(a!.channel, b!.channel);
  assert.equal(b!.channel.peer, a!.channel.peer, 'the same peer id, not copied again');
  assert.equal(b!.channel.dbid, other.channel.dbid);
});

test('replies round-trip: decode(encode(x)) equals x and re-encodes to the same bytes', () => {
  for (const { reply } of decisions) {
    const bytes = encodeReply(reply);
    const back: Reply = decodeReply(bytes);
    assert.deepEqual(back, reply);
    assert.deepEqual(encodeReply(back), bytes);
  }
});

test('unknown version, event kind, reply tag and truncation are errors naming them', () => {
  const events = encodeEvents(decisions[0]!.events);
  const v2 = events.slice();
  v2[0] = EVENT_CODEC_VERSION + 1;
  assert.throws(() => decodeEvents(v2), new CodecError(`events: unknown version 2 (this build reads version 1)`));
  const kind = events.slice();
  kind[5] = 0xee; // first event's tag, after version and count
  assert.throws(() => decodeEvents(kind), new CodecError('event: unknown kind tag 238 at offset 5'));
  assert.throws(() => decodeReply(Uint8Array.of(1, 9)), new CodecError('reply: unknown reply tag 9 at offset 1'));
  assert.throws(() => decodeReply(Uint8Array.of(3, 2)), /reply: unknown version 3/);
  assert.throws(() => decodeEvents(events.subarray(0, events.length - 1)), (e: Error) => e instanceof CodecError && /needs \d+ bytes/.test(e.message));
  assert.throws(() => decodeReply(Uint8Array.of(1, 2, 0)), /reply: 1 trailing bytes at offset 2/);
});

/**
 * Costs that stay flat: session-basic-l1, init included, replayed in-process (the Signer, native
 * curve and hashes, every reply checked against CLN's recording) on a state that already holds
 * 0, 100 and 1,000 other channels, set up and carrying the session's own history (its channel
 * events folded again under other dbids and funding outpoints). A request's cost should not
 * grow with the channels it does not touch; the ratio to the pass with none says whether it does.
 */
import { fastCurve } from '../node/curve-native.js';
import { nativeHashes } from '../node/hashes-native.js';
import { equal, fromHex } from '../signer/bytes.js';
import type { Envelope } from '../signer/envelope.js';
import { useHashes } from '../signer/crypto/hashes.js';
import type { SignerEvent } from '../signer/events.js';
import { Signer, type SignerOptions } from '../signer/signer.js';
import { apply, type SignerState } from '../signer/state.js';
import { sessionRequests, sessionSignerOptions } from '../test/session-records.js';
import { fmtMs } from './floors.js';
import { type Bench, fmtRatio, printTable } from './harness.js';

const SESSION = 'session-basic-l1.jsonl';
const OTHER_CHANNELS = [0, 100, 1000];
const WARM_PASSES = 3;
const TIMED_PASSES = 8;

/** `base` with `n` more channels, each the session's channel events under another dbid (and funding output index). */
function withOtherChannels(base: SignerState, channelEvents: readonly SignerEvent[], n: number): SignerState {
  let state = base;
  for (let i = 1; i <= n; i++) {
    for (const e of channelEvents) {
      if (!('channel' in e) || e.kind === 'ChannelForgotten') continue;
      const channel = { ...e.channel, dbid: e.channel.dbid + 1000n + BigInt(i) };
      state = apply(state, { ...e, channel, ...(e.kind === 'ChannelSetUp' ? { fundingTxout: i } : {}) } as SignerEvent);
    }
  }
  return state;
}

/** The session's requests with the replies CLN recorded (null: none), read once. */
type Recorded = readonly { readonly envelope: Envelope; readonly expected: Uint8Array | null }[];

/** One pass of the session through a fresh Signer on `state`: the time its requests took, every reply checked after. */
function pass(options: SignerOptions, state: SignerState, requests: Recorded): number {
  const signer = new Signer(options, state);
  const started = performance.now();
  const replies = requests.map(({ envelope }) => signer.handle(envelope).reply);
  const ms = performance.now() - started;
  replies.forEach((reply, i) => {
    const { expected } = requests[i]!;
    if (expected !== null && (reply.kind !== 'frame' || !equal(reply.frame, expected))) throw new Error(`request ${i + 1}: reply differs from CLN's`);
  });
  return ms;
}

export const sessionGrowthBench: Bench = {
  name: `replay ${SESSION} in-process beside 0, 100 and 1,000 other channels (costs that stay flat)`,
  async run() {
    useHashes(nativeHashes);
    const options = { ...sessionSignerOptions(SESSION), curve: fastCurve() };
    const requests: Recorded = sessionRequests(SESSION).map(({ envelope, exchange }) => ({ envelope, expected: exchange.rep === null ? null : fromHex(exchange.rep) }));
    const recorder = new Signer(options);
    const events = requests.flatMap(({ envelope }) => recorder.handle(envelope).events);
    const states = OTHER_CHANNELS.map((n) => withOtherChannels(new Signer(options).state, events, n));
    for (let i = 0; i < WARM_PASSES; i++) for (const state of states) pass(options, state, requests);
    // Round by round, one pass on each state: the JIT keeps warming, and no row gets more of it.
    const times = states.map((): number[] => []);
    for (let i = 0; i < TIMED_PASSES; i++) states.forEach((state, k) => times[k]!.push(pass(options, state, requests)));
    const medianOf = (t: number[]) => [...t].sort((a, b) => a - b)[TIMED_PASSES >> 1]!;
    const alone = medianOf(times[0]!);
    const rows = OTHER_CHANNELS.map((n, k) => [String(n), fmtMs(Math.min(...times[k]!)), fmtMs(medianOf(times[k]!)), fmtRatio(medianOf(times[k]!) / alone)]);
    printTable(['other channels', 'best pass', 'median pass', 'median ÷ with none'], rows);
    console.log(`${TIMED_PASSES} passes each, taken in turn, after ${WARM_PASSES} untimed; a fresh Signer per pass on the same state (hsmd_init included, not timed apart); the session's own channel is created afresh by its new_channel`);
  },
};

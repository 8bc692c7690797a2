/**
 * The differential lane (docs/hsmd-protocol.md#the-differential-lane), every request of a
 * recording with a byte of it changed: after both hsmds replayed it (`session-basic-l1`, and
 * `hsmd-basic-mnemonic` for a mnemonic secret's node and wallet requests), each request
 * after init is sent again, changed, on a new client of its own peer and channel with every
 * permission. Both must answer alike, but for what the lane keeps on purpose: a rule of
 * docs/policies.md our signer enforces, CLN crashing, libwally refusing to sign, our check that a
 * `bitcoin_tx`'s PSBT describes its transaction, and a `wirestring` that is not UTF-8 (field
 * encodings). Without CLN's hsmd this test does not apply and says so.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import fc from 'fast-check';
import { type Answers, CLN_HSMD, HsmdPair, L1, MNEMONIC, NO_CLN_HSMD, clnCrashes, describeOutcome, documentedRules, sameOutcome, wallyRefusesToSign } from './cln-pair.js';
import { SEED } from '../property-tests/settings.js';
import { WireError } from '../signer/wire/errors.js';
import { decodeMessage, messageType } from '../signer/wire/messages.js';

const skip = CLN_HSMD ? false : NO_CLN_HSMD;
const RULES = documentedRules();
const MUTATIONS_PER_REQUEST = 2;
const ALL_PERMISSIONS = 0x7ffn;

/** Why CLN and ours may answer a changed request differently (the lane's kept differences), or undefined. */
function kept(a: Answers): string | undefined {
  const type = parseInt(a.req.slice(0, 4), 16);
  if (a.cln.kind === 'fatal') return clnCrashes(a)?.label ?? wallyRefusesToSign(a)?.label;
  if (a.ours.kind !== 'closed') return undefined;
  const rule = /(policy-[a-z-]+)/.exec(a.ours.why)?.[1];
  if (rule && RULES.get(rule)?.includes(type)) return rule;
  if (a.ours.why.endsWith(' PSBT does not describe the transaction')) return 'the PSBT does not describe the transaction';
  try {
    decodeMessage(Buffer.from(a.req, 'hex'));
  } catch (e) {
    if (e instanceof WireError && e.message.includes('not valid UTF-8')) return 'a wirestring that is not UTF-8';
  }
  return undefined;
}

/** A byte of the body (not the type) flipped in one bit, or set to any value. */
const changedByte = (length: number) =>
  fc.record({ at: fc.integer({ min: 2, max: length - 1 }), flip: fc.boolean(), bit: fc.integer({ min: 0, max: 7 }), value: fc.integer({ min: 0, max: 255 }) });

for (const transcript of [L1, MNEMONIC]) {
  test(`every request of ${transcript === L1 ? 'session-basic-l1' : 'hsmd-basic-mnemonic'} with a byte changed, on its own channel's client: both answer alike`, { skip, timeout: 600_000 }, async (t) => {
    const replayed = transcript.exchanges.filter((e) => e.rep !== null);
    const start = async (): Promise<HsmdPair> => {
      const pair = await HsmdPair.start(transcript.header);
      await pair.replay(replayed);
      return pair;
    };
    const someone = Buffer.from((transcript.exchanges.find((e) => e.peer) ?? L1.exchanges.find((e) => e.peer))!.peer!, 'hex');
    const requests = transcript.exchanges.filter((e) => e.seq > 1 && parseInt(e.req.slice(0, 4), 16) !== messageType('hsmd_client_hsmfd'));
    let pair = await start();
    let nodeDbid = 100_000n;
    const outcomes: Record<string, number> = {};
    const unexplained: Array<{ req: string; cln: string; ours: string }> = [];
    try {
      for (const [k, ex] of requests.entries()) {
        const original = Buffer.from(ex.req, 'hex');
        for (const c of fc.sample(changedByte(original.length), { seed: SEED + k, numRuns: MUTATIONS_PER_REQUEST })) {
          const req = Buffer.from(original);
          req[c.at] = c.flip ? req[c.at]! ^ (1 << c.bit) : c.value;
          // A request of a channel on a client of that channel; a node request on a client of its
          // own (not dbid 0: CLN keeps three clients of dbid 0, lightningd's and its two daemons').
          const channel = ex.peer !== null && BigInt(ex.dbid) !== 0n;
          const [peer, dbid] = channel ? [Buffer.from(ex.peer!, 'hex'), BigInt(ex.dbid)] : [someone, nodeDbid++];
          const a = await (await pair.client(peer, dbid, ALL_PERMISSIONS)).ask(req);
          const why = sameOutcome(a.cln, a.ours) ? `alike, CLN ${a.cln.kind}` : kept(a);
          if (!why) unexplained.push({ req: a.req, cln: describeOutcome(a.cln), ours: describeOutcome(a.ours) });
          outcomes[why ?? 'unexplained'] = (outcomes[why ?? 'unexplained'] ?? 0) + 1;
          // A stopped hsmd (or a crashed one) is replaced, with the session replayed again.
          if (a.cln.kind === 'fatal' || a.ours.kind === 'fatal' || a.cln.kind === 'timeout' || a.ours.kind === 'timeout') {
            pair.cleanup();
            pair = await start();
          }
        }
      }
    } finally {
      pair.cleanup();
    }
    t.diagnostic(`${requests.length * MUTATIONS_PER_REQUEST} requests: ${JSON.stringify(outcomes)}`);
    assert.deepEqual(unexplained, [], 'requests CLN and our hsmd answer differently');
  });
}

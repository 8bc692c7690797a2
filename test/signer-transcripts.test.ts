/**
 * Every recorded exchange replayed through the signer core in this process (no broker,
 * no sockets): each reply must equal CLN v25.12.1's byte for byte, and a client it closed
 * (rep null with an error) must be a bad request. hsmd_client_hsmfd is
 * the broker's (it hands out fds), so here it only has to be the empty 109 reply.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import test from 'node:test';
import { fromHex, toHex } from '../signer/bytes.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import { chainStatusOf } from '../signer/chain/status.js';
import { decideChain } from '../signer/chain/track.js';
import { LOCAL_POLICY, type PolicyConfig } from '../signer/policy/policy.js';
import { Signer } from '../signer/signer.js';
import { fixturePath } from './fixtures.js';
import { headerBytes, recordedChain } from './recorded-chain.js';
import { sessionPolicy } from './session-records.js';
import { clientOf, loadTranscript } from './transcript.js';

const CLIENT_HSMFD = 9;

/**
 * Replays a transcript through one Signer; returns the mismatching exchanges. `beforeEach`
 * runs before each request once the signer is initialized (a chain message, say).
 */
function replayThroughSigner(name: string, onlyTypes?: ReadonlySet<number>, policy?: PolicyConfig, folder = 'transcripts', beforeEach?: (signer: Signer) => void): string[] {
  const { header, exchanges } = loadTranscript(fixturePath(`${folder}/${name}`));
  const signer = new Signer({
    curve: nobleCurve,
    developer: header.hsmd_args.includes('--developer'),
    readHsmSecret: () => fromHex(header.hsm_secret),
    ...(policy ? { policy } : {}),
  });
  const mismatches: string[] = [];
  let id = 0n;
  for (const ex of exchanges) {
    const message = fromHex(ex.req);
    const type = (message[0]! << 8) | message[1]!;
    if (type === CLIENT_HSMFD || (onlyTypes && !onlyTypes.has(type))) continue;
    if (signer.initialized) beforeEach?.(signer);
    const decision = signer.handle({
      id: ++id,
      client: clientOf(ex),
      at: 0,
      message,
    });
    const { reply } = decision;
    const got = reply.kind === 'frame' ? toHex(reply.frame) : reply.kind === 'none' ? null : `${reply.kind}: ${JSON.stringify(reply)}`;
    // A recorded close (rep null, error) of a client is a bad request here, with nothing decided.
    const closed = ex.error !== undefined && ex.rep === null && ex.conn !== 'master';
    const matched = closed ? reply.kind === 'bad-request' && decision.events.length === 0 : got === ex.rep;
    if (!matched) mismatches.push(`seq ${ex.seq} type ${type}\n  expected ${ex.rep ?? `a bad request (${ex.error})`}\n  got      ${got}`);
  }
  return mismatches;
}

for (const name of ['hsmd-basic-legacy.jsonl', 'hsmd-basic-mnemonic.jsonl']) {
  test(`${name}: every reply byte-identical through the signer core`, () => {
    assert.deepEqual(replayThroughSigner(name), []);
  });
}

/** Requests that involve no commitment or on-chain transaction (issue scope of node level). */
const NODE_LEVEL = new Set([1, 2, 3, 4, 6, 8, 10, 11, 18, 22, 23, 24, 25, 26, 27, 28, 30, 31, 32, 33, 34, 37, 38, 39, 41, 45, 51, 52, 56, 99]);

for (const name of ['session-basic-l1.jsonl', 'session-basic-l2.jsonl']) {
  test(`${name}: every node-level reply byte-identical through the signer core`, () => {
    assert.deepEqual(replayThroughSigner(name, NODE_LEVEL), []);
  });
}

// Replies of CLN's hsmd recorded by the differential lane (test/fixtures/cln-replies/README.md),
// against our local mode, which the lane compares it with.
for (const name of readdirSync(fixturePath('cln-replies')).filter((f) => f.endsWith('.jsonl'))) {
  test(`cln-replies/${name}: every reply byte-identical through the signer core (local mode)`, () => {
    assert.deepEqual(replayThroughSigner(name, undefined, LOCAL_POLICY, 'cln-replies'), []);
  });
}

// docs/policies.md "Rules that use the chain": with chain tracking on (the broker follows a
// chain source, the device answers chain messages and reports its view) but nothing shown
// yet, every transcript replays byte for byte; shown a chain that does not hold their
// fundings (the recorded chain run's block 1, on the same regtest genesis), the sessions'
// first commitment with an HTLC is refused by policy-funding-confirmed.
const TRANSCRIPTS = readdirSync(fixturePath('transcripts')).filter((f) => f.endsWith('.jsonl'));

for (const name of TRANSCRIPTS) {
  test(`${name}: byte for byte with chain tracking on and nothing shown yet`, () => {
    const shownNothing = (signer: Signer) => {
      const decision = decideChain(signer.state, []); // a chain message with nothing in it
      assert.ok(decision.ok && decision.events.length === 0);
      const status = chainStatusOf(signer.state); // what the device reports to the relay
      assert.equal(status.network, 'regtest');
      assert.equal(status.tip?.height, 0);
      assert.equal(signer.state.chain, undefined, 'no chain view: the chain rules are skipped');
    };
    assert.deepEqual(replayThroughSigner(name, undefined, sessionPolicy(name), 'transcripts', shownNothing), []);
  });
}

for (const name of TRANSCRIPTS) {
  test(`${name}: shown a chain without its fundings, HTLCs are refused by policy-funding-confirmed`, () => {
    const block1 = recordedChain()[1]!;
    const showBlock1 = (signer: Signer) => {
      if (signer.state.chain) return;
      const decision = decideChain(signer.state, [{ kind: 'headers', firstHeight: 1, headers: [headerBytes(block1)] }]);
      assert.ok(decision.ok);
      signer.apply(decision.events);
    };
    const mismatches = replayThroughSigner(name, undefined, sessionPolicy(name), 'transcripts', showBlock1);
    if (!name.startsWith('session-')) return assert.deepEqual(mismatches, [], 'no channel, nothing the chain rules read');
    assert.ok(mismatches.length > 0);
    assert.match(mismatches[0]!, /^seq \d+ type (19|35)\n[^]*policy-funding-confirmed: HTLCs total \d+ sat > 0 while the funding is not seen confirmed \(tip 1\)/);
  });
}

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
import { LOCAL_POLICY, type PolicyConfig } from '../signer/policy/policy.js';
import { Signer } from '../signer/signer.js';
import { fixturePath } from './fixtures.js';
import { clientOf, loadTranscript } from './transcript.js';

const CLIENT_HSMFD = 9;

/** Replays a transcript through one Signer; returns the mismatching exchanges. */
function replayThroughSigner(name: string, onlyTypes?: ReadonlySet<number>, policy?: PolicyConfig, folder = 'transcripts'): string[] {
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

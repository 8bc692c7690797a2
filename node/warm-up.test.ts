/**
 * The warm start's session is node l2's recording (scripts/make-warm-up.mjs): every request
 * of it, each answered through the throwaway signer as CLN answered it, so the warm-up runs
 * the paths a real session runs (not refusals); and warmStart touches nothing on disk.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import test from 'node:test';
import { fixturePath, repoRoot } from '../test/fixtures.js';
import { clientOf, loadTranscript } from '../test/transcript.js';
import { toHex } from '../signer/bytes.js';
import { Signer } from '../signer/signer.js';
import { policyOf } from '../broker/config.js';
import { fastCurve } from './curve-native.js';
import { warmStart } from './warm-up.js';

const session = JSON.parse(readFileSync(`${repoRoot}/node/warm-up-session.json`, 'utf8')) as { source: string; hsm_secret: string; requests: { req: string }[] };

test('node/warm-up-session.json is the recording\'s requests, and the signer answers them as CLN did', () => {
  const { header, exchanges } = loadTranscript(fixturePath('transcripts/session-basic-l2.jsonl'));
  assert.equal(session.hsm_secret, header.hsm_secret);
  const signed = exchanges.filter((ex) => !ex.req.startsWith('0009'));
  assert.deepEqual(session.requests.map((r) => r.req), signed.map((ex) => ex.req));
  // Through a Signer as the local signer's warm-up builds it (no SPHINX_* settings: the local
  // defaults): CLN's replies, so the warm-up runs no refusal paths.
  const signer = new Signer({ curve: fastCurve(), developer: false, policy: policyOf({}), readHsmSecret: () => Buffer.from(header.hsm_secret, 'hex') });
  let id = 0n;
  for (const ex of signed) {
    const { reply } = signer.handle({ id: ++id, client: clientOf(ex), at: 0, message: Buffer.from(ex.req, 'hex') });
    if (ex.rep !== null) assert.equal(reply.kind === 'frame' ? toHex(reply.frame) : reply.kind, ex.rep, `seq ${ex.seq}`);
  }
});

test('warmStart runs once per process and says so', () => {
  const lines: string[] = [];
  warmStart({ curve: fastCurve(), developer: false }, (l) => lines.push(l));
  warmStart({ curve: fastCurve(), developer: false }, (l) => lines.push(l));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, new RegExp(`^warm start: ran ${session.requests.length * 2} recorded requests with a test seed \\(not this node's; nothing kept\\) in \\d+ ms, so the first real ones are fast$`));
});

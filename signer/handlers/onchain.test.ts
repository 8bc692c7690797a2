/**
 * The on-chain handlers against CLN v25.12.1's own hsmd: session-basic-l1/l2 replayed in
 * order through the Signer (every request, so channel state is what it was), asserting
 * that each reply to sign_withdrawal (7), sign_penalty_to_us (14) and sign_mutual_close_tx
 * (21) is byte-identical. Requests of types other engineers own may still be bad requests
 * here; they are fed but not judged.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { fixturePath } from '../../test/fixtures.js';
import { clientOf, loadTranscript } from '../../test/transcript.js';
import { fromHex, toHex } from '../bytes.js';
import { nobleCurve } from '../crypto/noble.js';
import { sessionPolicy } from '../../test/session-records.js';
import { Signer } from '../signer.js';

/** The request types this module answers. */
const ONCHAIN = new Set([7, 12, 13, 14, 16, 21, 29, 142, 143, 144, 146, 147, 149]);
const CLIENT_HSMFD = 9;

function replay(name: string): { matched: Map<number, number>; mismatches: string[] } {
  const { header, exchanges } = loadTranscript(fixturePath(`transcripts/${name}`));
  // The device's default policy, with the session's withdrawal destinations allowlisted.
  const signer = new Signer({
    curve: nobleCurve,
    developer: header.hsmd_args.includes('--developer'),
    readHsmSecret: () => fromHex(header.hsm_secret),
    policy: sessionPolicy(name),
  });
  const matched = new Map<number, number>();
  const mismatches: string[] = [];
  let id = 0n;
  for (const ex of exchanges) {
    const message = fromHex(ex.req);
    const type = (message[0]! << 8) | message[1]!;
    if (type === CLIENT_HSMFD) continue;
    const { reply } = signer.handle({
      id: ++id,
      client: clientOf(ex),
      at: 0,
      message,
    });
    if (!ONCHAIN.has(type)) continue;
    const got = reply.kind === 'frame' ? toHex(reply.frame) : `${reply.kind}: ${JSON.stringify(reply)}`;
    if (got === ex.rep) matched.set(type, (matched.get(type) ?? 0) + 1);
    else mismatches.push(`seq ${ex.seq} type ${type}\n  expected ${ex.rep}\n  got      ${got}`);
  }
  return { matched, mismatches };
}

const EXPECTED: Record<string, [number, number][]> = {
  'session-basic-l1.jsonl': [[7, 2], [14, 14], [21, 1]],
  'session-basic-l2.jsonl': [[7, 1], [14, 16], [21, 1]],
};

for (const [name, counts] of Object.entries(EXPECTED)) {
  test(`${name}: every on-chain reply byte-identical through the signer`, () => {
    const { matched, mismatches } = replay(name);
    assert.deepEqual(mismatches, []);
    assert.deepEqual([...matched.entries()].sort((a, b) => a[0] - b[0]), counts);
  });
}

test('malformed PSBTs and transactions are bad requests, never exceptions', async () => {
  const { onchainHandlers } = await import('./onchain.js');
  const { openKeyRing } = await import('../keys/node-keys.js');
  const { DEFAULT_POLICY } = await import('../policy/policy.js');
  const { initialState } = await import('../state.js');
  const ctx = { keys: openKeyRing(nobleCurve, new Uint8Array(32).fill(1)), curve: nobleCurve, developer: false, policy: DEFAULT_POLICY };
  const env = { id: 1n, client: { peer: new Uint8Array(33).fill(2), dbid: 1n, permissions: 0n }, at: 0, message: new Uint8Array(0) };
  const garbage = fromHex('70736274ff0100');
  const w = onchainHandlers.hsmd_sign_withdrawal!(ctx, initialState, env, { inputs: [], psbt: garbage });
  assert.equal(w.reply.kind, 'bad-request');
  const p = onchainHandlers.hsmd_sign_penalty_to_us!(ctx, initialState, env, {
    revocation_secret: new Uint8Array(32).fill(3),
    tx: { tx: fromHex('0200'), psbt: garbage },
    wscript: new Uint8Array(0),
  });
  assert.equal(p.reply.kind, 'bad-request');
});

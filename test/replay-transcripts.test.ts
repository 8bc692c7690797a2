/**
 * Replays CLN v25.12.1 hsmd recordings through bin/sphinx-hsmd with the local signer,
 * exactly as lightningd would drive it: every reply must be byte-identical (docs/design.md#the-signer-core).
 * The two full sessions (open, pay, withdraw, close) also guard the broker boundary: the
 * signer keeps bytes from earlier requests, which must not alias reused socket buffers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixturePath } from './fixtures.js';
import { SimLightningd } from '../demo/sim-lightningd.js';

const TRANSCRIPTS = ['hsmd-basic-legacy.jsonl', 'hsmd-basic-mnemonic.jsonl', 'session-basic-l1.jsonl', 'session-basic-l2.jsonl'];

for (const name of TRANSCRIPTS) {
  test(`replay ${name}: every reply byte-identical`, async () => {
    const result = await SimLightningd.replayTranscript(fixturePath(`transcripts/${name}`), {
      env: { SPHINX_SIGNER: 'local', SPHINX_CLN_VERSION: 'v25.12.1' },
    });
    const report = result.mismatches
      .map((m) => `seq ${m.seq} ${m.conn} type ${m.type}\n  expected ${m.expected}\n  got      ${m.got}`)
      .join('\n');
    const total = result.passed + result.failed;
    assert.equal(result.failed, 0, `${result.failed} of ${total} failed:\n${report}\nhsmd status:\n${result.status}`);
    assert.equal(result.exit.code, 2, 'hsmd exits 2 when the master closes');
  });
}

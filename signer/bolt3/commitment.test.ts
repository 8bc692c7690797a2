/**
 * Commitment-number obscuring (BOLT 3 Commitment Transaction) against Appendix C's printed
 * "obscured commitment number = 0x2bb038521914 ^ 42" and its commitment transactions.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readJsonFixture } from '../../test/fixtures.js';
import { fromHex } from '../bytes.js';
import { commitmentNumberObscurer, obscuredCommitmentNumberOf } from './commitment.js';
import { parseTx } from './tx.js';

const set = readJsonFixture('vectors/bolt03-commitment-txs.json').appendix_c_static_remotekey;

test('obscuring factor and the number carried in locktime/sequence', () => {
  const v = set.common_parameters.values;
  const line: string = set.common_parameters.spec_comment_lines.find((l: any) => l.text.includes('obscured commitment number')).text;
  const [, factorHex, numberText] = /= 0x([0-9a-f]+) \^ (\d+)/.exec(line)!;
  const factor = BigInt('0x' + factorHex);
  assert.equal(BigInt(numberText!), BigInt(v.commitment_number));
  // Opener (local, the funder) first.
  assert.equal(commitmentNumberObscurer(fromHex(v.local_payment_basepoint), fromHex(v.remote_payment_basepoint)), factor);
  for (const c of set.test_cases) {
    const tx = parseTx(fromHex(c.commit_tx));
    assert.equal(obscuredCommitmentNumberOf(tx) ^ factor, BigInt(v.commitment_number));
    assert.equal(tx.locktime >>> 24, 0x20);
    assert.equal(tx.inputs[0]!.sequence >>> 24, 0x80);
  }
});

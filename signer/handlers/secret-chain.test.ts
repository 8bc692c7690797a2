/** The immutable compact secret store against BOLT 3 Appendix D's storage sequences. */
import assert from 'node:assert/strict';
import test from 'node:test';
import { readJsonFixture } from '../../test/fixtures.js';
import { fromHex, toHex } from '../bytes.js';
import { chainSecret, emptySecretChain, insertSecret, type SecretChain } from './secret-chain.js';

const d = readJsonFixture('vectors/bolt03-per-commitment-secrets.json');
const MAX_INDEX = (1n << 48n) - 1n;
/** Commitment number of shachain index I (I = 2^48 - 1 - n). */
const commitmentOf = (I: string): bigint => MAX_INDEX - BigInt(I);

test('storage sequences: OK/ERROR per step, as BOLT 3 insert_secret', () => {
  let steps = 0;
  for (const seq of d.storage) {
    let chain: SecretChain = emptySecretChain;
    for (const s of seq.steps) {
      const next = insertSecret(chain, commitmentOf(s.I), fromHex(s.secret));
      assert.equal(next ? 'OK' : 'ERROR', s.expected, `${seq.name} I=${s.I}`);
      if (next) chain = next;
      steps++;
    }
  }
  assert.equal(steps, 56);
});

test('the chain derives every secret it was given, and nothing newer', () => {
  const seq = d.storage[0];
  let chain: SecretChain = emptySecretChain;
  for (const s of seq.steps) chain = insertSecret(chain, commitmentOf(s.I), fromHex(s.secret))!;
  for (const s of seq.steps) assert.equal(toHex(chainSecret(chain, commitmentOf(s.I))!), toHex(fromHex(s.secret)));
  assert.equal(chainSecret(chain, chain.last! + 1n), undefined);
});

test('a chain may start mid-sequence (a state begun after the channel) and still checks later secrets', () => {
  const steps = d.storage[0].steps;
  let chain: SecretChain = emptySecretChain;
  for (const s of steps.slice(3, 7)) chain = insertSecret(chain, commitmentOf(s.I), fromHex(s.secret))!;
  const next = steps[7]; // I = 2^48 - 8: position 3, must derive the stored position-0 secret
  assert.equal(insertSecret(chain, commitmentOf(next.I), new Uint8Array(32).fill(7)), undefined);
  assert.equal(insertSecret(chain, commitmentOf(next.I), fromHex(next.secret))?.last, commitmentOf(next.I));
});

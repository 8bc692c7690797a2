/** BOLT 3 Appendix D: every generation vector, and the immutable compact store against every storage sequence. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readJsonFixture } from '../../test/fixtures.js';
import { fromHex, toHex } from '../bytes.js';
import { chainSecret, emptySecretChain, insertSecret, SeedChain, type SecretChain, shachainFromSeed, shachainIndex } from './shachain.js';

const d = readJsonFixture('vectors/bolt03-per-commitment-secrets.json');
const MAX_INDEX = (1n << 48n) - 1n;
/** Commitment number of shachain index I (I = 2^48 - 1 - n). */
const commitmentOf = (I: string): bigint => MAX_INDEX - BigInt(I);

test('generate_from_seed vectors', () => {
  assert.equal(d.generation.length, 5);
  for (const v of d.generation) {
    assert.equal(BigInt(v.I), BigInt(v.index));
    assert.equal(toHex(shachainFromSeed(fromHex(v.seed), BigInt(v.I))), toHex(fromHex(v.output)), v.name);
  }
});

test('SeedChain (the hashes of high bits kept between indices) gives the vectors and the storage secrets, in any order', () => {
  for (const v of d.generation) assert.equal(toHex(new SeedChain(fromHex(v.seed)).at(BigInt(v.I))), toHex(fromHex(v.output)), v.name);
  const chain = new SeedChain(new Uint8Array(32).fill(0xff));
  const steps = d.storage[0].steps;
  // Forwards, backwards, and again: its kept hashes must never leak from one index into another.
  for (const s of [...steps, ...[...steps].reverse(), ...steps]) assert.equal(toHex(chain.at(BigInt(s.I))), toHex(fromHex(s.secret)), `I=${s.I}`);
  assert.throws(() => chain.at(MAX_INDEX + 1n), /out of range/);
  // Indices whose high bits change and come back (commitments across 256-blocks, and far
  // apart) against shachainFromSeed, which the generation vectors hold to BOLT 3.
  const seed = fromHex(d.generation[0].seed);
  const many = new SeedChain(seed);
  for (const n of [0n, 1n, 255n, 256n, 257n, 1n, 65535n, 65536n, 0n, 1000000n, 999999n, MAX_INDEX, 12345678901n, 255n]) {
    assert.equal(toHex(many.at(shachainIndex(n))), toHex(shachainFromSeed(seed, shachainIndex(n))), `commitment ${n}`);
  }
});

test('commitment number n uses index 2^48 - 1 - n', () => {
  assert.equal(shachainIndex(0n), 281474976710655n);
  assert.equal(shachainIndex(281474976710655n), 0n);
  assert.throws(() => shachainIndex(1n << 48n));
});

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
  // The storage tests' seed (notes: "a seed of 0xFFF...FF is used") generates them all.
  const seed = new Uint8Array(32).fill(0xff);
  for (const s of seq.steps) assert.equal(toHex(shachainFromSeed(seed, BigInt(s.I))), toHex(fromHex(s.secret)));
});

test('a chain may start mid-sequence (a state begun after the channel) and still checks later secrets', () => {
  const steps = d.storage[0].steps;
  let chain: SecretChain = emptySecretChain;
  for (const s of steps.slice(3, 7)) chain = insertSecret(chain, commitmentOf(s.I), fromHex(s.secret))!;
  const next = steps[7]; // I = 2^48 - 8: position 3, must derive the stored position-0 secret
  assert.equal(insertSecret(chain, commitmentOf(next.I), new Uint8Array(32).fill(7)), undefined);
  assert.equal(insertSecret(chain, commitmentOf(next.I), fromHex(next.secret))?.last, commitmentOf(next.I));
});

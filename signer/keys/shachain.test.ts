/** BOLT 3 Appendix D: every generation vector and every storage sequence. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readJsonFixture } from '../../test/fixtures.js';
import { fromHex, toHex } from '../bytes.js';
import { ShachainStore, shachainFromSeed, shachainIndex } from './shachain.js';

const d = readJsonFixture('vectors/bolt03-per-commitment-secrets.json');

test('generate_from_seed vectors', () => {
  assert.equal(d.generation.length, 5);
  for (const v of d.generation) {
    assert.equal(BigInt(v.I), BigInt(v.index));
    assert.equal(toHex(shachainFromSeed(fromHex(v.seed), BigInt(v.I))), toHex(fromHex(v.output)), v.name);
  }
});

test('storage sequences: OK/ERROR per step, each on a fresh store', () => {
  let steps = 0;
  for (const seq of d.storage) {
    const store = new ShachainStore();
    for (const s of seq.steps) {
      const index = BigInt(s.I);
      assert.equal(store.nextIndex, index, `${seq.name}: inserts arrive in order`);
      const ok = store.insert(index, fromHex(s.secret));
      assert.equal(ok ? 'OK' : 'ERROR', s.expected, `${seq.name} I=${s.I}`);
      if (ok) assert.equal(toHex(store.get(index)!), toHex(fromHex(s.secret)));
      steps++;
    }
  }
  assert.equal(steps, 56);
});

test('the store derives every earlier secret of the correct sequence', () => {
  const seq = d.storage[0];
  const store = new ShachainStore();
  for (const s of seq.steps) assert.equal(store.insert(BigInt(s.I), fromHex(s.secret)), true);
  for (const s of seq.steps) assert.equal(toHex(store.get(BigInt(s.I))!), toHex(fromHex(s.secret)));
  // The storage tests' seed (notes: "a seed of 0xFFF...FF is used") generates them all.
  const seed = new Uint8Array(32).fill(0xff);
  for (const s of seq.steps) assert.equal(toHex(shachainFromSeed(seed, BigInt(s.I))), toHex(fromHex(s.secret)));
  assert.equal(store.get(BigInt(seq.steps[0].I) + 1n), undefined, 'nothing newer than the first insert');
  assert.throws(() => store.insert(0n, new Uint8Array(32)), /out of order/);
});

test('commitment number n uses index 2^48 - 1 - n', () => {
  assert.equal(shachainIndex(0n), 281474976710655n);
  assert.equal(shachainIndex(281474976710655n), 0n);
  assert.throws(() => shachainIndex(1n << 48n));
});

/**
 * slotMark's durability contract (high-water.ts): a raise is written without a sync, so a power
 * loss may leave an earlier mark (a true lower bound, never more than the journal holds); a
 * lowering the operator accepted is durable; a torn slot leaves the other one.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { MemoryDir } from '../memory-file.js';
import { slotMark } from './high-water.js';

test('raises are not synced: after a power loss the mark is an earlier one, never a later one', () => {
  const dir = new MemoryDir();
  const mark = slotMark(dir, 'memory');
  mark.write(5n);
  const syncs = [...dir.files.values()].reduce((n, f) => n + f.syncs, 0);
  assert.equal(syncs, 0, 'a raise syncs nothing');
  assert.equal(mark.read(), 5n);
  dir.crash();
  assert.equal(slotMark(dir, 'memory').read(), undefined, 'lost with the power: no mark is a true lower bound');
});

test('the mark written before a sync of the files survives; a later raise lost with the power leaves it', () => {
  const dir = new MemoryDir();
  const mark = slotMark(dir, 'memory');
  mark.write(7n);
  for (const f of dir.files.values()) f.sync(); // the OS wrote it back at some point
  mark.write(9n);
  dir.crash(3); // the raise's slot torn after 3 bytes
  assert.equal(slotMark(dir, 'memory').read(), 7n);
});

test('a lowering is durable at once, in both slots', () => {
  const dir = new MemoryDir();
  const mark = slotMark(dir, 'memory');
  mark.write(10n);
  mark.write(11n);
  for (const f of dir.files.values()) f.sync();
  mark.write(4n); // the operator accepted a rollback to id 4
  dir.crash();
  assert.equal(slotMark(dir, 'memory').read(), 4n);
});

/**
 * MirrorDb on a real LevelDB in a temp directory: a batch waits for `beforeWrite` (the broker's
 * mirror store times its synced write after a broker log batch: docs/journal.md "Mirror"), and
 * nothing of it is stored or becomes the tip before that.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { encodeMirrorEntry, GENESIS, makeEntry, type MirrorEntry, positionAfter } from '../mirror/entry.js';
import { MirrorDb } from './mirror-db.js';

const KEY = new Uint8Array(32).fill(7);
const DEVICE = '02'.padEnd(66, 'a');
/** Entries as their stored bytes, in hex (decoded ones hold Buffers, made ones Uint8Arrays). */
const hex = (entries: readonly MirrorEntry[]): string[] => entries.map((e) => Buffer.from(encodeMirrorEntry(e)).toString('hex'));

function chain(n: number): MirrorEntry[] {
  const entries: MirrorEntry[] = [];
  let at = GENESIS;
  for (let i = 0; i < n; i++) {
    const e = makeEntry(KEY, at, 'record', Uint8Array.of(i, i + 1, i + 2));
    entries.push(e);
    at = positionAfter(e);
  }
  return entries;
}

test('apply writes its batch only once beforeWrite resolves, then the entries and the tip are there', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mirror-db-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = await MirrorDb.open(dir);
  t.after(() => db.close());
  const entries = chain(3);
  let release!: () => void;
  let asked = false;
  const applying = db.apply(DEVICE, { store: entries, reset: false }, () => {
    asked = true;
    return new Promise<void>((resolve) => (release = resolve));
  });
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(asked, true);
  assert.deepEqual(await db.entries(DEVICE), [], 'nothing stored while beforeWrite is pending');
  assert.equal(await db.tip(DEVICE), undefined);
  release();
  await applying;
  assert.deepEqual(hex(await db.entries(DEVICE)), hex(entries));
  const tip = await db.tip(DEVICE);
  assert.ok(tip);
  assert.equal(tip.counter, 3n);
  assert.equal(Buffer.from(tip.mac).toString('hex'), Buffer.from(entries[2]!.mac).toString('hex'));
});

test('apply with nothing to store does not wait for beforeWrite', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mirror-db-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = await MirrorDb.open(dir);
  t.after(() => db.close());
  await db.apply(DEVICE, { store: [], reset: false }, () => new Promise<void>(() => undefined));
  assert.deepEqual(await db.entries(DEVICE), []);
});

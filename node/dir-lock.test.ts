/**
 * The data directory lock (docs/journal.md "Locks") against lock files written by hand: one
 * naming this process's own pid is ours only in this life (a pid reused after a crash, pid 1
 * in a restarted container, is taken over); a live holder's refusal says which file to remove
 * if that pid is not a sphinx process; a live pid whose recorded life is not the one running
 * (a reused pid) is stale.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type TestContext } from 'node:test';
import { DirLockedError, lifeOf, LOCK_FILE, lockDir } from './dir-lock.js';

function dirWithLock(t: TestContext, holder: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ host: hostname(), program: 'sphinx-signer', ...holder }));
  return dir;
}

test('a lock naming our own pid from an earlier life is stale: taken over, and the file names this life', (t) => {
  const dir = dirWithLock(t, { pid: process.pid, since: '2026-01-01T00:00:00.000Z', life: 'an earlier life' });
  const lock = lockDir(dir, 'sphinx-signer');
  assert.equal(lock.tookOver?.pid, process.pid);
  const written = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { pid: number; life?: string };
  assert.equal(written.pid, process.pid);
  assert.equal(written.life, lifeOf(process.pid));
  lock.release();
});

test('a lock naming our own pid without a life (an older lock), taken before this process started, is stale', (t) => {
  const dir = dirWithLock(t, { pid: process.pid, since: '2020-01-01T00:00:00.000Z' });
  const lock = lockDir(dir, 'sphinx-signer');
  assert.equal(lock.tookOver?.pid, process.pid);
  lock.release();
});

test('a lock this process holds is refused to it again, naming the file to remove if the pid is not a sphinx process', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lock = lockDir(dir, 'sphinx-signer');
  assert.throws(() => lockDir(dir, 'sphinx-signer'), (e: Error) =>
    e instanceof DirLockedError && e.message.includes(`in use by sphinx-signer (pid ${process.pid} on host ${hostname()}`) &&
    e.message.endsWith(`If pid ${process.pid} is not a sphinx process, remove ${join(dir, LOCK_FILE)}.`));
  lock.release();
});

test('a live pid in the life the lock records is refused; the same pid in another life (reused) is stale', (t) => {
  const parent = process.ppid;
  const life = lifeOf(parent);
  if (life === undefined) return t.skip('no /proc here: another process\'s life cannot be read');
  const held = dirWithLock(t, { pid: parent, since: '2026-01-01T00:00:00.000Z', life });
  assert.throws(() => lockDir(held, 'sphinx-signer'), (e: Error) => e instanceof DirLockedError && e.message.includes(`If pid ${parent} is not a sphinx process, remove ${join(held, LOCK_FILE)}.`));
  const reused = dirWithLock(t, { pid: parent, since: '2026-01-01T00:00:00.000Z', life: `${life}0` });
  const lock = lockDir(reused, 'sphinx-signer');
  assert.equal(lock.tookOver?.pid, parent);
  lock.release();
});

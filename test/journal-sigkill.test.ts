/**
 * A real process appends journal records through the Node fs adapter
 * (node/node-file.ts), printing each id once its append is synced; it is killed
 * with SIGKILL at 50 random moments (seeded). After each kill, recovery holds every
 * acknowledged record, possibly one more (appended, killed before it printed), never a
 * corrupted one: each recovered record equals the one written for its id, the ids run on
 * without a gap from the snapshot, and the next process continues from there.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { NodeDir } from '../node/node-file.js';
import { Journal, openJournalFiles } from '../log/journal/journal.js';
import { journalTestRecord } from './journal-test-records.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'journal-kill-child.js');
const ROUNDS = 50;
const SEED = 0x5eed_0004;

/** mulberry32: a small seeded PRNG, so a failing run can be repeated. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs the child until `killAfterMs` past its "ready", SIGKILLs it; its acknowledged ids. */
function runAndKill(dir: string, killAfterMs: number): Promise<{ ready: bigint; acked: bigint[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (timer === undefined && out.includes('\n')) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.on('error', reject);
    // 'close', not 'exit': acknowledgements still in the pipe when the child died must be read.
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`child exited ${code} ${signal}: ${out.slice(-500)}`));
      // Only complete lines count: a kill mid-print acknowledges nothing.
      const lines = out.split('\n').slice(0, -1);
      const ready = BigInt(lines[0]!.replace('ready ', ''));
      resolve({ ready, acked: lines.slice(1).map(BigInt) });
    });
  });
}

test(`SIGKILL at ${ROUNDS} random moments: recovery holds every acknowledged record, never a corrupted one`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'journal-sigkill-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const random = prng(SEED);
  let lastAcked = 0n;
  let lastRecovered = 0n;
  let extra = 0;
  let torn = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const killAfterMs = Math.floor(random() * 120);
    const { ready, acked } = await runAndKill(dir, killAfterMs);
    assert.equal(ready, lastRecovered, `round ${round}: the child resumed where recovery ended`);
    acked.forEach((id, i) => assert.equal(id, ready + BigInt(i) + 1n));
    if (acked.length > 0) lastAcked = acked.at(-1)!;

    const { journal, recovery } = Journal.open(openJournalFiles(new NodeDir(dir)));
    if (recovery.torn) torn++;
    const snapshotId = recovery.snapshot?.lastId ?? 0n;
    if (recovery.snapshot) assert.equal(new TextDecoder().decode(recovery.snapshot.body), `through ${snapshotId}`);
    recovery.records.forEach(({ record }, i) => {
      assert.equal(record.id, snapshotId + BigInt(i) + 1n, `round ${round}: no gap after the snapshot`);
      assert.deepEqual(record, journalTestRecord(record.id), `round ${round}: record ${record.id} intact`);
    });
    const last = journal.lastId ?? 0n;
    assert.ok(last >= lastAcked, `round ${round} (kill after ${killAfterMs} ms): acknowledged ${lastAcked}, recovered only through ${last}`);
    // This round's child started at `ready` (which may already be one past an earlier
    // round's acknowledgements) and appends one record at a time: at most one more than
    // it acknowledged, or than it started from, can be durable.
    const confirmed = acked.at(-1) ?? ready;
    assert.ok(last <= confirmed + 1n, `round ${round}: recovered ${last}, more than one past ${confirmed} (acknowledged, or where the child started)`);
    if (last > confirmed) extra++;
    lastRecovered = last;
  }
  assert.ok(lastAcked > 0n, 'records were acknowledged');
  t.diagnostic(`${lastAcked} records acknowledged over ${ROUNDS} kills; ${extra} kills left one unacknowledged record, ${torn} a torn tail`);
});

/**
 * The LevelDB log under SIGKILL: a real child process (test/broker-log-crash-child.ts)
 * appends with group commit and prints each seq once its append resolved; it is killed with
 * SIGKILL at 50 seeded random moments, over 5 databases (side by side) reopened 10 times each. After every
 * kill the log must hold every acknowledged record intact at its seq, hold nothing corrupt
 * (every stored record is exactly the one its id stands for), have no hole in its seqs, and the
 * next writer must resume right after the last stored record.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { BrokerLog } from '../log/broker-log/broker-log.js';
import { crashRecord } from './broker-log-crash-child.js';

const RUNS = 5;
const KILLS_PER_RUN = 10;
/** Kill moments are uniform in [0, MAX_DELAY_MS) after the child reported its log open. */
const MAX_DELAY_MS = 60;
const WRITER = fileURLToPath(new URL('./broker-log-crash-child.js', import.meta.url));

/** mulberry32: a small seeded PRNG, so every run kills at the same moments. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface KilledRun {
  /** The log end the child found on open. */
  readonly openedAt: bigint;
  /** seq → id of every append the child acknowledged. */
  readonly acks: Map<bigint, bigint>;
}

/** Spawns a writer on `dir`, kills it `delayMs` after it opened the log, and collects its output. */
function runAndKill(dir: string, run: number, delayMs: number): Promise<KilledRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir, String(run)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let armed = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (!armed && out.includes('\n')) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited by itself (code ${code}): ${err}`));
      const lines = out.split('\n').slice(0, -1); // a line without its newline was never acknowledged
      const [ready, ...acked] = lines;
      const opened = /^ready (\d+)$/.exec(ready ?? '');
      if (!opened) return reject(new Error(`writer did not report ready: ${JSON.stringify(out.slice(0, 200))} ${err}`));
      const acks = new Map<bigint, bigint>();
      for (const line of acked) {
        const [seq, id] = line.split(' ');
        acks.set(BigInt(seq!), BigInt(id!));
      }
      resolve({ openedAt: BigInt(opened[1]!), acks });
    });
  });
}

interface RunStats {
  readonly ackedPerKill: number[];
  /** Records found durable though the child was killed before acknowledging them. */
  readonly unackedPresent: number;
}

/** One database, reopened by a writer per delay and killed that long after it opened the log. */
async function killRepeatedly(run: number, delaysMs: readonly number[], dir: string): Promise<RunStats> {
  const acknowledged = new Map<bigint, bigint>();
  const ackedPerKill: number[] = [];
  let unackedPresent = 0;
  let end = 0n;
  for (const [kill, delayMs] of delaysMs.entries()) {
    const { openedAt, acks } = await runAndKill(dir, run * 100 + kill, delayMs);
    const where = `run ${run}, kill ${kill} (${delayMs.toFixed(1)} ms after open)`;
    assert.equal(openedAt, end, `${where}: the writer resumed at seq ${openedAt}, the log ended at ${end}`);
    for (const [seq, id] of acks) acknowledged.set(seq, id);
    ackedPerKill.push(acks.size);

    const log = await BrokerLog.open(dir);
    let expectedSeq = 0n;
    for await (const { seq, record } of log.read()) {
      assert.equal(seq, expectedSeq, `${where}: hole before seq ${seq}`);
      expectedSeq++;
      assert.equal(record.kind, 'request-received', `${where}: seq ${seq}`);
      const id = (record as { id: bigint }).id;
      assert.deepEqual(record, crashRecord(id), `${where}: seq ${seq} is not intact`);
      const ackedId = acknowledged.get(seq);
      if (ackedId !== undefined) assert.equal(id, ackedId, `${where}: seq ${seq} holds id ${id}, acknowledged as ${ackedId}`);
      else if (seq >= openedAt) unackedPresent++;
    }
    end = log.end;
    await log.close();
    const lost = [...acknowledged.keys()].filter((seq) => seq >= end);
    assert.deepEqual(lost, [], `${where}: acknowledged seqs missing after the kill`);
  }
  return { ackedPerKill, unackedPresent };
}

test('SIGKILL at 50 random moments: every acknowledged append survives intact, nothing is corrupt', async (t) => {
  const random = seeded(0x5eed_4);
  const delays = Array.from({ length: RUNS }, () => Array.from({ length: KILLS_PER_RUN }, () => random() * MAX_DELAY_MS));
  const dirs = delays.map(() => mkdtempSync(join(tmpdir(), 'broker-log-crash-')));
  t.after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  // The runs use separate databases, so they run side by side (process start-up dominates).
  const stats = await Promise.all(delays.map((d, i) => killRepeatedly(i + 1, d, dirs[i]!)));
  const ackedPerKill = stats.flatMap((s) => s.ackedPerKill);
  const total = ackedPerKill.reduce((a, b) => a + b, 0);
  const killsAfterAcks = ackedPerKill.filter((n) => n > 0).length;
  const unacked = stats.reduce((a, s) => a + s.unackedPresent, 0);
  t.diagnostic(`${ackedPerKill.length} kills, ${total} acknowledged appends (per kill min ${Math.min(...ackedPerKill)}, ` +
    `max ${Math.max(...ackedPerKill)}, ${killsAfterAcks} kills after some), ${unacked} durable but unacknowledged when killed`);
  assert.ok(killsAfterAcks >= KILLS_PER_RUN, 'most kills should land while appends are being acknowledged');
});

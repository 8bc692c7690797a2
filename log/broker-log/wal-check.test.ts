/**
 * wal-check.ts on a write-ahead log LevelDB itself wrote: every single-bit flip is refused,
 * except one that raises the last record's length (indistinguishable from a torn last write,
 * as LevelDB also treats it); every cut inside the last record is a torn write, not damage.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { BrokerLog } from './broker-log.js';
import { walDamage } from './wal-check.js';

async function writtenWal(records: number): Promise<Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), 'wal-check-'));
  try {
    const log = await BrokerLog.open(dir);
    for (let i = 0; i < records; i++) await log.append({ kind: 'error', id: BigInt(i), text: `record ${i}`, at: i });
    await log.close();
    return new Uint8Array(readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.log'))!)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a clean write-ahead log reads clean; every single-bit flip is refused but a raise of the last record\'s length', async () => {
  const wal = await writtenWal(12);
  assert.equal(walDamage(wal), undefined);
  // The last physical record's header: 7 bytes, u16 length at +4 (little-endian).
  let last = 0;
  for (let at = 0; at < wal.length; at += 7 + (wal[at + 4]! | (wal[at + 5]! << 8))) last = at;
  const lastLength = wal[last + 4]! | (wal[last + 5]! << 8);
  let torn = 0;
  for (let bit = 0; bit < wal.length * 8; bit++) {
    const flipped = wal.slice();
    flipped[bit >> 3]! ^= 1 << (bit & 7);
    const damage = walDamage(flipped);
    if (damage) continue;
    const byte = bit >> 3;
    const raised = (flipped[last + 4]! | (flipped[last + 5]! << 8)) > lastLength;
    assert.ok((byte === last + 4 || byte === last + 5) && raised, `bit ${bit} (byte ${byte}) flipped unnoticed`);
    torn++;
  }
  assert.ok(torn > 0 && torn <= 16, `${torn} flips look like a torn last write`);
});

test('the last record cut anywhere is a torn write; the damage names the last key before it', async () => {
  const wal = await writtenWal(12);
  let last = 0;
  for (let at = 0; at < wal.length; at += 7 + (wal[at + 4]! | (wal[at + 5]! << 8))) last = at;
  for (let cut = last + 1; cut < wal.length; cut++) assert.equal(walDamage(wal.subarray(0, cut)), undefined, `cut at ${cut}`);
  const flipped = wal.slice();
  flipped[last + 10]! ^= 1;
  assert.deepEqual(walDamage(flipped), { offset: last, detail: `checksum mismatch in a record of ${wal.length - last - 7} bytes (type 1)`, afterSeq: 10n });
});

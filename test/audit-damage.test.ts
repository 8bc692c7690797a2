/**
 * bin/sphinx-audit on a damaged broker log (docs/broker-log.md "Audit"): session-basic-l1's
 * real LevelDB log (test/audit-session.ts) with a bit flipped in its write-ahead log, in a
 * stored reply inside a table, and in a table's footer. Each run must exit 3 (damaged input,
 * not 1, a mismatch), name the place, print no stack trace, and leave every file of the log
 * byte for byte as it was (LevelDB alone rewrites a database it opens: shown first).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { Level } from 'level';
import { brokerLogDir } from '../log/broker-log/broker-log.js';
import { fileHashes, repoRoot } from './fixtures.js';
import { buildSession, logRecords, type SessionDirs } from './audit-session.js';

const AUDIT_BIN = join(repoRoot, 'bin', 'sphinx-audit');

function runAudit(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [AUDIT_BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function withSession(f: (s: SessionDirs, dir: string) => Promise<void>): Promise<void> {
  const s = await buildSession();
  try {
    await f(s, brokerLogDir(s.dataDir));
  } finally {
    rmSync(s.root, { recursive: true, force: true });
  }
}

const fileOf = (dir: string, ext: string): string => join(dir, readdirSync(dir).find((f) => f.endsWith(ext))!);

/** Opens and closes the log in place: LevelDB moves its write-ahead log into a table. */
async function intoTable(dir: string): Promise<void> {
  const db = new Level(dir);
  await db.open();
  await db.close();
}

function flipBit(path: string, byte: number): void {
  const b = readFileSync(path);
  b[byte]! ^= 0x04;
  writeFileSync(path, b);
}

/** Every command that reads the log: exit 3, the place named, no stack trace, no file changed. */
function assertDamagedAndUntouched(s: SessionDirs, dir: string, where: RegExp): void {
  const before = fileHashes(dir);
  for (const args of [['verify', '--log', s.dataDir, '--journal', s.deviceDir, '--hsm-secret', s.secretFile], ['summary', '--log', s.dataDir], ['report', '--log', s.dataDir, '--out', join(s.root, 'r.html')]]) {
    const r = runAudit(args);
    assert.equal(r.status, 3, `${args[0]}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, new RegExp(`sphinx-audit: damaged input: the broker log ${dir} is damaged ${where.source}`), args[0]);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(fileHashes(dir), before, `${args[0]}: every file of the log as it was`);
  }
}

test('a clean log audits with exit 0 and no file of it changed, though LevelDB rewrites a database it opens', async () => {
  await withSession(async (s, dir) => {
    const before = fileHashes(dir);
    const r = runAudit(['verify', '--log', s.dataDir, '--journal', s.deviceDir, '--hsm-secret', s.secretFile]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.deepEqual(fileHashes(dir), before);
    await intoTable(dir);
    assert.notDeepEqual(fileHashes(dir), before, 'opening it in place rewrites its files');
  });
});

test('a bit flipped in the write-ahead log: exit 3, named after the last good seq, every file as it was', async () => {
  await withSession(async (s, dir) => {
    const wal = fileOf(dir, '.log');
    assert.ok(readFileSync(wal).length > 65_536, 'the records span several 32 KiB blocks');
    flipBit(wal, 20_000);
    assertDamagedAndUntouched(s, dir, /after seq \d+ \(write-ahead log \d+\.log, byte \d+\): checksum mismatch/);
  });
});

test('a bit flipped in a stored reply inside a table: exit 3 naming its seq; the other records are still audited', async () => {
  await withSession(async (s, dir) => {
    await intoTable(dir);
    const records = await logRecords(s.dataDir);
    const victim = records.find((r) => r.record.kind === 'reply-received' && r.record.reply.kind === 'frame' && r.record.reply.frame.length > 100 && r.seq > 50n)!;
    const frame = (victim.record as { reply: { frame: Uint8Array } }).reply.frame;
    const table = readFileSync(fileOf(dir, '.ldb'));
    const at = table.indexOf(Buffer.from(frame.subarray(frame.length - 64)));
    assert.ok(at > 0, 'the reply is in the table as is');
    flipBit(fileOf(dir, '.ldb'), at + 3);
    assertDamagedAndUntouched(s, dir, new RegExp(`at seq ${victim.seq}: checksum mismatch`));
    const json = runAudit(['verify', '--log', s.dataDir, '--json']);
    assert.equal(json.status, 3);
    const verified = JSON.parse(json.stdout);
    assert.equal(verified.ok, false);
    assert.deepEqual(verified.damaged.map((d: string) => /damaged (at seq \d+)/.exec(d)?.[1]), [`at seq ${victim.seq}`], 'the damage in --json too');
    const summary = runAudit(['summary', '--log', s.dataDir, '--json']);
    assert.equal(JSON.parse(summary.stdout).requests, records.filter((r) => r.record.kind === 'request-received').length, 'every request still counted');
  });
});

test('a table whose footer is damaged (LevelDB itself refuses it): exit 3, no stack trace', async () => {
  await withSession(async (s, dir) => {
    await intoTable(dir);
    const table = fileOf(dir, '.ldb');
    flipBit(table, readFileSync(table).length - 3); // in the magic number
    assertDamagedAndUntouched(s, dir, /.*LevelDB: .*/);
  });
});

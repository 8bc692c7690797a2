/**
 * sphinx-audit verify on a log with an unlogged-requests record (docs/broker-log.md
 * "Reconciliation after a broker crash"), at the depth the end-to-end test
 * (test/broker-reconcile.test.ts) does not reach: a request that changes the signer's state.
 * session-basic-l1's log and journal (test/audit-session.ts) with hsmd_setup_channel's request
 * and reply taken out of the log, as a broker would have left it had it published that request
 * ahead of its record and stopped, and the next run's ids followed (the record names it). The
 * journal record it covers is a note, and the replay applies its events where the device
 * decided it, so the channel's later requests replay byte for byte; without the record the
 * same log is a mismatch.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { Level } from 'level';
import { runAudit } from '../audit/cli.js';
import { brokerLogDir, seqKey } from '../log/broker-log/broker-log.js';
import { encodeRecord, type LogRecord } from '../log/broker-log/record.js';
import { messageType } from '../signer/wire/messages.js';
import { buildSession, logRecords } from './audit-session.js';

async function verify(dataDir: string, deviceDir: string, secretFile: string) {
  let out = '';
  const code = await runAudit(['verify', '--log', dataDir, '--journal', deviceDir, '--hsm-secret', secretFile, '--json'], {
    stdout: { write: (s: string) => (out += s) },
    stderr: { isTTY: false, write: () => true },
    env: {},
  });
  return { code, report: JSON.parse(out) as { verified: number; findings: { id?: string; text: string }[]; notes: { id?: string; seq?: string; text: string }[] } };
}

/** A broker log at `dataDir` holding `records` in order, as BrokerLog stores them. */
async function writeLog(dataDir: string, records: readonly LogRecord[]): Promise<void> {
  const db = new Level<Uint8Array, Uint8Array>(brokerLogDir(dataDir), { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  await db.batch(records.map((record, i) => ({ type: 'put' as const, key: seqKey(BigInt(i)), value: encodeRecord(record, BigInt(i)) })));
  await db.close();
}

test('a journaled request the log lost, covered by an unlogged-requests record: a note, and its events replayed where the device decided it', async (t) => {
  const s = await buildSession();
  t.after(() => rmSync(s.root, { recursive: true, force: true }));
  const records = (await logRecords(s.dataDir)).map((r) => r.record);
  const lost = records.find((r): r is Extract<LogRecord, { kind: 'request-received' }> => r.kind === 'request-received' && r.type === messageType('hsmd_setup_channel'))!.id;
  const kept = records.filter((r) => !((r.kind === 'request-received' || r.kind === 'reply-received') && r.id === lost));
  const next = kept.findIndex((r) => r.kind === 'request-received' && r.id > lost);
  const replies = kept.filter((r) => r.kind === 'reply-received').length;

  const withRecord = join(s.root, 'with-record');
  await writeLog(withRecord, [...kept.slice(0, next), { kind: 'unlogged-requests', deviceId: 'test-device', afterId: lost - 1n, throughId: lost, at: 1_700_000_000_000 }, ...kept.slice(next)]);
  const explained = await verify(withRecord, s.deviceDir, s.secretFile);
  assert.deepEqual(explained.report.findings, []);
  assert.equal(explained.code, 0);
  assert.equal(explained.report.verified, replies, 'every logged reply replayed byte for byte');
  assert.ok(explained.report.notes.some((n) => n.id === String(lost) && /^decided by the device \(frame reply\) but never logged: explained by the unlogged-requests record at seq \d+$/.test(n.text)));

  const without = join(s.root, 'without-record');
  await writeLog(without, kept);
  const unexplained = await verify(without, s.deviceDir, s.secretFile);
  assert.equal(unexplained.code, 1);
  assert.ok(unexplained.report.findings.some((f) => f.id === String(lost) && /journal record with no logged request or reply/.test(f.text)));
  assert.ok(unexplained.report.findings.some((f) => /logged reply differs from the signer's replayed reply/.test(f.text)),
    'the channel\'s later requests do not replay without its setup: applying its events is not vacuous');
});

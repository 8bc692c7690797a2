/**
 * sphinx-audit rates (a 1M-record log must verify with visible progress):
 * - verify without the secret (every reply's signatures checked, audit/signature-checks.ts)
 *   on a 1M-record broker log: session-basic-l1's request/reply records repeated with
 *   increasing ids, written once into a temp dir's LevelDB as BrokerLog stores them; the progress
 *   bar is drawn on stderr as the real tool draws it;
 * - verify with the secret (every request replayed through a fresh Signer, replies compared
 *   byte for byte) on the session's own log, repeated: replay needs a log a real signer
 *   produced, and a repeated session is not one (its channel would be created twice). The
 *   log was made under sessionPolicy (the device's defaults with the session's withdrawal
 *   allowlisted), and the replay starts from it, as `sphinx-audit verify --policy` does.
 * BENCH_AUDIT_RECORDS sets the big log's size (default 250k to keep the bench near a minute;
 * BENCH_AUDIT_RECORDS=1000000 for the 1M run); the size used is printed with the rate.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Progress, progressStream } from '../audit/progress.js';
import { verifyLog } from '../audit/verify.js';
import { fastCurve } from '../node/curve-native.js';
import { Level } from 'level';
import { BrokerLog, brokerLogDir, seqKey } from '../log/broker-log/broker-log.js';
import { encodeRecord, type LogRecord } from '../log/broker-log/record.js';
import { fromHex } from '../signer/bytes.js';
import { liveSession, sessionPolicy, sessionRequests } from '../test/session-records.js';
import { fixturePath } from '../test/fixtures.js';
import { loadTranscript } from '../test/transcript.js';
import { type Bench, fmtOps } from './harness.js';

const SESSION = 'session-basic-l1.jsonl';
/** 1M takes about two minutes here (a minute to write, a minute to verify): over the bench's budget, so opt in. */
const RECORDS = Number(process.env['BENCH_AUDIT_RECORDS'] ?? 250_000);
const CHUNK = 20_000;

/** The session as broker-log records (request, reply), ids from `base + 1`. */
function sessionLog(base: bigint, decisions: ReturnType<typeof liveSession>['decisions']): LogRecord[] {
  return decisions.flatMap((d, i): LogRecord[] => [
    { kind: 'request-received', id: base + d.envelope.id, client: d.envelope.client, type: (d.envelope.message[0]! << 8) | d.envelope.message[1]!, message: d.envelope.message, at: 1_700_000_000_000 + i },
    { kind: 'reply-received', id: base + d.envelope.id, reply: d.decision.reply, latencyMicros: 300 + i },
  ]);
}

/**
 * Writes `count` records straight into the LevelDB at `dir` in unsynced batches of the keys
 * and values BrokerLog writes (the synced append path is bench/broker-log.ts's subject, and
 * at its rate 1M records would take the whole budget).
 */
async function fill(dir: string, count: number, decisions: ReturnType<typeof liveSession>['decisions']): Promise<void> {
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    let batch: { type: 'put'; key: Uint8Array; value: Uint8Array }[] = [];
    let seq = 0n;
    for (let base = 0n; seq < BigInt(count); base += BigInt(decisions.length)) {
      for (const r of sessionLog(base, decisions)) {
        if (seq >= BigInt(count)) break;
        batch.push({ type: 'put', key: seqKey(seq), value: encodeRecord(r, seq) });
        seq++;
      }
      if (batch.length >= CHUNK) {
        await db.batch(batch);
        batch = [];
      }
    }
    await db.batch(batch);
  } finally {
    await db.close();
  }
}

export const auditBench: Bench = {
  name: 'sphinx-audit: verify and replay rates',
  async run() {
    const { decisions } = liveSession(SESSION);
    const curve = fastCurve();
    const dir = mkdtempSync(join(tmpdir(), 'bench-audit-'));
    try {
      // Whole sessions only, so every reply follows its request.
      const big = Math.max(2, RECORDS - (RECORDS % (decisions.length * 2)));
      const started = performance.now();
      await fill(brokerLogDir(join(dir, 'big')), big, decisions);
      const built = (performance.now() - started) / 1000;
      console.log(`built a ${big.toLocaleString('en-US')}-record broker log (${SESSION} repeated) in ${built.toFixed(1)} s` +
        (big < 1_000_000 ? ' (not 1M: over the bench budget; BENCH_AUDIT_RECORDS=1000000 runs it)' : ''));
      const log = await BrokerLog.open(brokerLogDir(join(dir, 'big')));
      const bar = new Progress(progressStream(process.stderr, undefined, process.env), 'verify', big); // on a terminal only, as sphinx-audit draws it
      const t0 = performance.now();
      const report = await verifyLog(log, { curve, onProgress: (n) => bar.update(n) });
      bar.done();
      const secs = (performance.now() - t0) / 1000;
      await log.close();
      const sigs = [...report.byType.values()].reduce((a, t) => a + t.ok, 0);
      console.log(`verify, no secret: ${report.records.toLocaleString('en-US')} records in ${secs.toFixed(1)} s = ${fmtOps(report.records / secs)} records/s ` +
        `(${sigs.toLocaleString('en-US')} replies' signatures checked, ${report.findings.length} findings)`);

      // Replay with the secret: the session's own log, verified again and again.
      await fill(brokerLogDir(join(dir, 'session')), decisions.length * 2, decisions);
      const small = await BrokerLog.open(brokerLogDir(join(dir, 'session')));
      const secret = fromHex(loadTranscript(fixturePath(`transcripts/${SESSION}`)).header.hsm_secret);
      let replayed = 0;
      let findings = 0;
      const t1 = performance.now();
      while (performance.now() - t1 < 3000) {
        const r = await verifyLog(small, { curve, hsmSecret: secret, policy: sessionPolicy(SESSION) });
        replayed += r.replies;
        findings += r.findings.length;
      }
      const rsecs = (performance.now() - t1) / 1000;
      await small.close();
      console.log(`verify with the secret (replay through a fresh Signer, byte-for-byte): ${fmtOps(replayed / rsecs)} requests/s ` +
        `(${replayed.toLocaleString('en-US')} replayed, ${sessionRequests(SESSION).length} per pass, ${findings} findings)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

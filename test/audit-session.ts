/**
 * Test kit for sphinx-audit: session-basic-l1 driven through the real components the remote
 * path uses on each side: a BrokerLog on LevelDB in `<dir>/broker/broker-log` (as the broker
 * logs: request-received before the signer sees the request, reply-received after) and the
 * device's write-ahead SignerCore journaling into `<dir>/device` through NodeDir; the
 * session's hsm_secret in `<dir>/hsm_secret`. Times and latencies are SYNTHETIC (the
 * recording has none). Plus tampering helpers that edit the files as an attacker would.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { sha256 } from '@noble/hashes/sha2.js';
import { SignerCore } from '../core/signer-core.js';
import { NodeDir } from '../node/node-file.js';
import { BrokerLog, brokerLogDir, seqKey } from '../log/broker-log/broker-log.js';
import { decodeRecord, encodeRecord, type LogRecord } from '../log/broker-log/record.js';
import { encodeFrame, scanFrames } from '../log/journal/frame.js';
import { SOURCED_RECORD_TAG } from '../log/journal/record.js';
import { openJournalFiles } from '../log/journal/journal.js';
import { Signer } from '../signer/signer.js';
import { fromHex } from '../signer/bytes.js';
import { fixturePath } from './fixtures.js';
import { RECORDED_SESSIONS_POLICY_FILE, sessionPolicy, sessionRequests, sessionSignerOptions } from './session-records.js';
import { loadTranscript } from './transcript.js';

export const SESSION = 'session-basic-l1.jsonl';

export interface SessionDirs {
  readonly root: string;
  /** The broker's SPHINX_DATA_DIR. */
  readonly dataDir: string;
  readonly deviceDir: string;
  readonly secretFile: string;
}

/** Runs the session through a BrokerLog and a journaling SignerCore. */
export async function buildSession(): Promise<SessionDirs> {
  const root = mkdtempSync(join(tmpdir(), 'sphinx-audit-'));
  const dataDir = join(root, 'broker');
  const deviceDir = join(root, 'device');
  const secretFile = join(root, 'hsm_secret');
  const { header } = loadTranscript(fixturePath(`transcripts/${SESSION}`));
  writeFileSync(secretFile, fromHex(header.hsm_secret));
  const t0 = Date.parse(header['recorded_at'] as string);
  const log = await BrokerLog.open(brokerLogDir(dataDir));
  const { core } = SignerCore.open(openJournalFiles(new NodeDir(deviceDir)), (state) => new Signer(sessionSignerOptions(SESSION), state));
  try {
    // As a device provisioned with a policy.json: the session's policy (its withdrawal
    // destination allowlisted) is the journal's first record, where an audit replay finds it.
    const policyFile = new TextEncoder().encode(RECORDED_SESSIONS_POLICY_FILE);
    core.commit('policy-file', [{ kind: 'PolicyChanged', policy: sessionPolicy(SESSION), fileDigest: sha256(policyFile) }], t0);
    await log.append({ kind: 'signer-connected', deviceId: 'test-device', at: t0 });
    for (const [i, { envelope }] of sessionRequests(SESSION).entries()) {
      const at = t0 + i * 250;
      await log.append({ kind: 'request-received', id: envelope.id, client: envelope.client, type: (envelope.message[0]! << 8) | envelope.message[1]!, message: envelope.message, at });
      const { reply } = core.handle({ ...envelope, at: Math.floor(at / 1000) });
      await log.append({ kind: 'reply-received', id: envelope.id, reply, latencyMicros: 300 + ((i * 7919) % 5000) });
    }
  } finally {
    await log.close();
  }
  return { root, dataDir, deviceDir, secretFile };
}

type Db = Level<Uint8Array, Uint8Array>;

/** Opens the broker log's LevelDB directly (as someone editing it would), runs `f`, closes. */
export async function editLog<T>(dataDir: string, f: (db: Db) => Promise<T>): Promise<T> {
  const db: Db = new Level<Uint8Array, Uint8Array>(brokerLogDir(dataDir), { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    return await f(db);
  } finally {
    await db.close();
  }
}

/** Every record of the log with its seq. */
export async function logRecords(dataDir: string): Promise<{ seq: bigint; record: LogRecord }[]> {
  return editLog(dataDir, async (db) => {
    const out: { seq: bigint; record: LogRecord }[] = [];
    for await (const [k, v] of db.iterator()) {
      const seq = new DataView(k.buffer, k.byteOffset, 8).getBigUint64(0);
      out.push({ seq, record: decodeRecord(new Uint8Array(v), seq) });
    }
    return out;
  });
}

/** Rewrites the record at `seq`. */
export const putRecord = (dataDir: string, seq: bigint, record: LogRecord): Promise<void> =>
  editLog(dataDir, (db) => db.put(seqKey(seq), encodeRecord(record, seq)));

export const deleteRecord = (dataDir: string, seq: bigint): Promise<void> => editLog(dataDir, (db) => db.del(seqKey(seq)));

/** The frames of the journal's request records (sourced records left out), with their offsets. */
export function journalFrames(deviceDir: string): { offset: number; payload: Uint8Array }[] {
  return scanFrames('journal', new Uint8Array(readFileSync(join(deviceDir, 'journal')))).frames.filter((f) => f.payload[0] !== SOURCED_RECORD_TAG);
}

/** Replaces the journal file's content (its frames, without the reserved space after them: docs/journal.md "Reserved space"). */
export function rewriteJournal(deviceDir: string, edit: (content: Uint8Array) => Uint8Array): void {
  const path = join(deviceDir, 'journal');
  const bytes = new Uint8Array(readFileSync(path));
  writeFileSync(path, edit(bytes.subarray(0, scanFrames(path, bytes).end)));
}

export { encodeFrame };

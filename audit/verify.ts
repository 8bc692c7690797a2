/**
 * `sphinx-audit verify`: one pass over the broker log, in sequence order.
 * - Structure: sequence numbers without holes (the log never has any, so a hole is a removed
 *   record), one request per id, one reply per request, after it.
 * - With the hsm_secret: every answered request is decided again by a fresh Signer, in the
 *   order the device answered them (the order of the reply records: the device is
 *   sequential and its replies arrive in order), with the logged client context and time,
 *   under the policy the device started from (`policy`) and the journal's changes to it,
 *   and the reply must be byte-identical to the logged one.
 * - Without it: every signature in every reply is checked (audit/signature-checks.ts).
 * - With a journal: every logged reply must be the journal record of the same id (same
 *   request digest, same reply); journal records with no logged reply, requests the device
 *   answered but the broker never logged, and damaged frames are named by byte offset.
 *   Journal records an unlogged-requests record explains (published by a broker that stopped
 *   before logging them: docs/broker-log.md "Reconciliation after a broker crash") are notes,
 *   and their events are applied to the replay where the device decided them (by id).
 * Every finding names the record: broker-log sequence, request id, message type, journal offset.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import type { BrokerLog } from '../log/broker-log/broker-log.js';
import type { RequestReceived } from '../log/broker-log/record.js';
import type { JournalRecord } from '../log/journal/record.js';
import type { SignerEvent } from '../signer/events.js';
import { messageName } from '../projections/records.js';
import { equal } from '../signer/bytes.js';
import type { Curve } from '../signer/crypto/curve.js';
import type { Reply } from '../signer/decision.js';
import type { PolicyConfig } from '../signer/policy/policy.js';
import { Signer } from '../signer/signer.js';
import type { JournalScan } from './journal-scan.js';
import { type SignatureCheck, SignatureChecker } from './signature-checks.js';

export interface Finding {
  readonly seq?: bigint;
  readonly id?: bigint;
  readonly type?: string;
  readonly offset?: number;
  readonly text: string;
}

/** Per message type: what was checked and how. */
export interface TypeChecks {
  ok: number;
  bad: number;
  /** Signatures that could not be checked (needs the secret, or the key is not in the log). */
  unchecked: number;
  /** Replies with no signature (or refusals). */
  none: number;
  /** The distinct explanations seen. */
  readonly how: Set<string>;
}

export interface VerifyOptions {
  readonly curve: Curve;
  /** The hsm_secret file's bytes: replay mode. */
  readonly hsmSecret?: Uint8Array;
  readonly developer?: boolean;
  /**
   * The policy the device started from (replay mode; the device's default if unset). The
   * journal's own policy changes apply on top, where they happened.
   */
  readonly policy?: PolicyConfig;
  readonly journal?: JournalScan;
  readonly onProgress?: (records: number) => void;
}

export interface VerifyReport {
  readonly mode: 'replay' | 'signatures';
  readonly records: number;
  readonly requests: number;
  readonly replies: number;
  /** Replies compared byte for byte (replay mode) or whose signatures were checked. */
  readonly verified: number;
  readonly byType: ReadonlyMap<string, TypeChecks>;
  readonly journal: { readonly path: string; readonly records: number; readonly matched: number; readonly coveredBySnapshot: number } | undefined;
  /** Mismatches: any makes verify fail. */
  readonly findings: readonly Finding[];
  /** Facts worth knowing that are not mismatches (e.g. a request renumbered by the broker). */
  readonly notes: readonly Finding[];
}

interface Pending {
  readonly seq: bigint;
  readonly request: RequestReceived;
}

/** Differences between two replies, in words (empty when identical). */
export function replyDifference(logged: Reply, other: Reply): string | undefined {
  if (logged.kind !== other.kind) {
    // The refusal's own words name the rule (docs/policies.md): the reader needs them to tell a policy from a bug.
    const why = (r: Reply): string => ('description' in r ? ` (${JSON.stringify(r.description)})` : '');
    return `reply kind ${logged.kind}${why(logged)} vs ${other.kind}${why(other)}`;
  }
  if (logged.kind === 'frame' || (logged.kind === 'fatal' && logged.frame !== undefined)) {
    const a = (logged as { frame: Uint8Array }).frame;
    const b = (other as { frame?: Uint8Array }).frame;
    if (b === undefined) return 'frame missing';
    if (!equal(a, b)) {
      let i = 0;
      while (i < a.length && i < b.length && a[i] === b[i]) i++;
      return `frames differ from byte ${i} (${a.length} vs ${b.length} bytes)`;
    }
  }
  if ((logged.kind === 'bad-request' || logged.kind === 'fatal') && logged.description !== (other as { description: string }).description) {
    return `description ${JSON.stringify(logged.description)} vs ${JSON.stringify((other as { description: string }).description)}`;
  }
  if (logged.kind === 'fatal' && logged.failure !== (other as { failure: unknown }).failure) return 'status_fail reason differs';
  return undefined;
}

/**
 * A reply the log shows signed that the replay refuses: most often a policy other than the
 * replay's was in force then (a device's policy.json the journal does not hold, an older build's
 * defaults), which --policy gives the replay (docs/policies.md).
 */
function policyHint(logged: Reply, replayed: Reply, policyGiven: boolean): string {
  if (logged.kind !== 'frame' || replayed.kind !== 'bad-request') return '';
  return `; the replay refuses what was signed: if another policy was in force then, ${policyGiven ? 'check the --policy file against it' : 'give it with --policy FILE (the device\'s policy.json format)'}`;
}

const where = (f: Finding): string =>
  [f.seq !== undefined ? `seq ${f.seq}` : undefined, f.id !== undefined ? `id ${f.id}` : undefined, f.type, f.offset !== undefined ? `journal offset ${f.offset}` : undefined]
    .filter((x) => x !== undefined)
    .join(', ');

/** One line per finding: where, then what. */
export const describeFinding = (f: Finding): string => `${where(f)}: ${f.text}`;

export async function verifyLog(log: BrokerLog, options: VerifyOptions): Promise<VerifyReport> {
  const findings: Finding[] = [];
  const notes: Finding[] = [];
  const byType = new Map<string, TypeChecks>();
  const tally = (type: string, check: SignatureCheck): void => {
    let t = byType.get(type);
    if (!t) byType.set(type, (t = { ok: 0, bad: 0, unchecked: 0, none: 0, how: new Set() }));
    t[check.status === 'ok' ? 'ok' : check.status]++;
    t.how.add(check.how);
  };
  const replay = options.hsmSecret !== undefined
    ? new Signer({ curve: options.curve, developer: options.developer ?? false, policy: options.policy, readHsmSecret: () => options.hsmSecret! })
    : undefined;
  const checker = replay ? undefined : new SignatureChecker(options.curve);

  // The journal's records by id (what the device decided), consumed as the log matches them.
  const journal = options.journal;
  const journalById = new Map<bigint, { offset: number; record: JournalRecord }>();
  for (const r of journal?.records ?? []) journalById.set(r.record.id, r);
  // The device's own changes (policy file, control commands): the replay applies each before
  // the request that followed it in the journal, so it decides under the same policy.
  const sourcedBefore = new Map<bigint, SignerEvent[]>();
  for (const { offset, record } of journal?.sourced ?? []) {
    const next = journal!.records.find((r) => r.offset > offset);
    if (next) sourcedBefore.set(next.record.id, [...(sourcedBefore.get(next.record.id) ?? []), ...record.events]);
  }
  const damagedIds = new Map<bigint, number>();
  for (const b of journal?.bad ?? []) {
    findings.push({ offset: b.offset, id: b.id, text: `journal ${journal!.file}: ${b.tail ? 'damaged last frame (a torn write, or a changed byte)' : 'corrupt frame'} of ${b.length} bytes: ${b.reason}` });
    if (b.id !== undefined) damagedIds.set(b.id, b.offset);
  }
  for (const u of journal?.undecodable ?? []) findings.push({ offset: u.offset, text: `journal ${journal!.file}: frame is good but not a record: ${u.reason}` });
  const coveredId = journal?.snapshot?.lastId;
  let matched = 0;
  let covered = 0;

  // Journal records explained by an unlogged-requests record, in id order: the replay applies
  // each one's events (after the sourced ones before it) ahead of the first higher id it replays.
  const unlogged: { offset: number; record: JournalRecord }[] = [];
  const applyUnloggedBelow = (id: bigint): void => {
    while (replay && unlogged.length > 0 && unlogged[0]!.record.id < id) {
      const { record } = unlogged.shift()!;
      replay.apply([...(sourcedBefore.get(record.id) ?? []), ...record.events]);
    }
  };

  const pending = new Map<bigint, Pending>();
  const answered = new Set<bigint>();
  const explained = new Map<bigint, string>();
  let expectedSeq = 0n;
  let records = 0;
  let requests = 0;
  let replies = 0;
  let verified = 0;

  for await (const { seq, record } of log.read()) {
    records++;
    if (options.onProgress && (records & 1023) === 0) options.onProgress(records);
    if (seq !== expectedSeq) {
      const missing = seq - expectedSeq;
      findings.push({ seq: expectedSeq, text: `${missing === 1n ? 'record' : `${missing} records (seq ${expectedSeq}..${seq - 1n})`} missing: the log never has holes, so a record was removed` });
    }
    expectedSeq = seq + 1n;
    switch (record.kind) {
      case 'request-received': {
        requests++;
        if (pending.has(record.id) || answered.has(record.id)) {
          findings.push({ seq, id: record.id, type: messageName(record.type), text: 'a second request with this id' });
        }
        pending.set(record.id, { seq, request: record });
        break;
      }
      case 'reply-received': {
        replies++;
        const p = pending.get(record.id);
        if (p === undefined) {
          const text = answered.has(record.id) ? 'a second reply to this request' : 'reply to a request the log does not hold (its request-received record is missing)';
          findings.push({ seq, id: record.id, text });
          break;
        }
        pending.delete(record.id);
        answered.add(record.id);
        const type = messageName(p.request.type);
        const named = { seq, id: record.id, type };
        if (replay) {
          applyUnloggedBelow(record.id);
          const changes = sourcedBefore.get(record.id);
          if (changes) replay.apply(changes);
          const decision = replay.handle({ id: record.id, client: p.request.client, at: Math.floor(p.request.at / 1000), message: p.request.message });
          const diff = replyDifference(record.reply, decision.reply);
          if (diff) {
            findings.push({ ...named, text: `logged reply differs from the signer's replayed reply: ${diff} (request at seq ${p.seq})${policyHint(record.reply, decision.reply, options.policy !== undefined)}` });
            tally(type, { status: 'bad', how: 'replayed byte for byte' });
          } else {
            verified++;
            tally(type, { status: 'ok', how: 'replayed byte for byte' });
          }
        } else if (record.reply.kind === 'frame') {
          const check = checker!.check(p.request.client, p.request.message, record.reply.frame);
          tally(type, check);
          if (check.status === 'bad') findings.push({ ...named, text: check.how });
          if (check.status === 'ok') verified++;
        } else {
          tally(type, { status: 'none', how: `${record.reply.kind} reply` });
        }
        if (journal) {
          const j = journalById.get(record.id);
          if (j) {
            journalById.delete(record.id);
            const diff = replyDifference(record.reply, j.record.reply);
            if (!equal(j.record.requestDigest, sha256(p.request.message))) {
              findings.push({ ...named, offset: j.offset, text: 'journal record holds a different request (digest differs from the logged request)' });
            } else if (diff) {
              findings.push({ ...named, offset: j.offset, text: `journal record's reply differs from the logged reply: ${diff}` });
            } else matched++;
          } else if (damagedIds.has(record.id)) {
            // Already reported as a damaged frame; say which logged reply it was.
            findings.push({ ...named, offset: damagedIds.get(record.id), text: 'the journal record of this reply is damaged' });
          } else if (coveredId !== undefined && record.id <= coveredId) {
            const kept = journal.snapshotReplies.get(record.id);
            if (kept && replyDifference(record.reply, kept.reply)) findings.push({ ...named, text: "reply differs from the one the journal's snapshot kept" });
            covered++;
          } else {
            findings.push({ ...named, text: `logged reply has no journal record in ${journal.file}: the device never journaled it (or its record was removed)` });
          }
        }
        break;
      }
      case 'error':
        if (record.id !== undefined && pending.has(record.id)) explained.set(record.id, record.text);
        break;
      case 'unlogged-requests': {
        const { deviceId, afterId, throughId } = record;
        notes.push({ seq, text: `request ids ${afterId + 1n}..${throughId}: the broker published them before logging them and stopped; ` +
          `device ${deviceId} journaled up to ${throughId}. Their requests are not in this log, and lightningd got no reply to them` });
        const explained = [...journalById.values()].filter((j) => j.record.id > afterId && j.record.id <= throughId).sort((a, b) => (a.record.id < b.record.id ? -1 : 1));
        for (const j of explained) {
          journalById.delete(j.record.id);
          unlogged.push(j);
          notes.push({ id: j.record.id, offset: j.offset, text: `decided by the device (${j.record.reply.kind} reply) but never logged: explained by the unlogged-requests record at seq ${seq}` });
        }
        unlogged.sort((a, b) => (a.record.id < b.record.id ? -1 : 1));
        break;
      }
      case 'signer-connected':
      case 'signer-disconnected':
        break;
    }
  }
  options.onProgress?.(records);
  if (log.end !== expectedSeq) findings.push({ seq: expectedSeq, text: `the log ends at seq ${log.end} but records stop at ${expectedSeq}` });

  for (const [id, p] of pending) {
    const named = { seq: p.seq, id, type: messageName(p.request.type) };
    const j = journalById.get(id);
    if (j) {
      journalById.delete(id);
      findings.push({ ...named, offset: j.offset, text: 'the device answered this request (journal record) but the broker never logged the reply' });
    } else if (explained.has(id)) {
      notes.push({ ...named, text: `never answered under this id; the broker logged: ${explained.get(id)}` });
    } else {
      findings.push({ ...named, text: 'request never answered (no reply in the log, no journal record)' });
    }
  }
  for (const { offset, record } of journalById.values()) {
    findings.push({ id: record.id, offset, text: `journal record with no logged request or reply: ${record.reply.kind} reply the broker never logged` });
  }
  for (const p of journal?.slotProblems ?? []) notes.push({ text: p });

  return {
    mode: replay ? 'replay' : 'signatures',
    records,
    requests,
    replies,
    verified,
    byType,
    journal: journal && { path: journal.file, records: journal.records.length, matched, coveredBySnapshot: covered },
    findings,
    notes,
  };
}

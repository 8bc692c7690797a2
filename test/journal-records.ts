/**
 * Journal records of a recorded session (its requests through a live Signer), and a journal
 * written from them with a sync after each, as the device core writes it: the inputs of the
 * journal's tests on memory and on real files.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import type { FileDir } from '../log/file-port.js';
import { Journal, openJournalFiles } from '../log/journal/journal.js';
import type { JournalRecord } from '../log/journal/record.js';
import { liveSession } from './session-records.js';

/** The session's decisions as request records (the request's digest, events, reply). */
export const sessionJournalRecords = (name = 'session-basic-l1.jsonl'): JournalRecord[] =>
  liveSession(name).decisions.map(({ envelope, decision }) => ({
    id: envelope.id,
    requestDigest: sha256(envelope.message),
    events: decision.events,
    reply: decision.reply,
  }));

/** Opens the journal in `dir` and appends `records`, each synced; returns it open. */
export function writeJournal(dir: FileDir, records: readonly JournalRecord[]): Journal {
  const { journal } = Journal.open(openJournalFiles(dir));
  for (const r of records) {
    journal.append(r);
    journal.sync();
  }
  return journal;
}

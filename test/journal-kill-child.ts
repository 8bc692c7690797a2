/**
 * Child process of journal-sigkill.test.ts: recovers the journal in the directory given as
 * argv[2] (through the Node fs adapter), prints "ready <last id>", then appends records
 * forever, printing each id once its append is synced (acknowledged). Every 37th record
 * it snapshots and compacts, so kills land in those steps too.
 */
import { writeSync } from 'node:fs';
import { NodeDir } from '../node/node-file.js';
import { Journal, openJournalFiles } from '../log/journal/journal.js';
import { journalTestRecord } from './journal-test-records.js';

const { journal } = Journal.open(openJournalFiles(new NodeDir(process.argv[2]!)));
let id = journal.lastId ?? 0n;
writeSync(1, `ready ${id}\n`);
for (;;) {
  id++;
  journal.append(journalTestRecord(id));
  journal.sync();
  writeSync(1, `${id}\n`);
  if (id % 37n === 0n) journal.snapshot(new TextEncoder().encode(`through ${id}`));
}

/**
 * A journal write or sync that fails (a full or failing disk) stops the core for good
 * (docs/journal.md "Write-ahead"): the request it was for is not answered, every later call
 * throws the same error, and the state in memory never goes on from what the disk may lack.
 * Reopened after the crash that follows, the journal holds every acknowledged record and the
 * session goes on with CLN's replies. The in-process signer turns the stop into a fatal reply,
 * so lightningd's log says what failed and what to do (broker/local-signer.ts).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { groupCommitting } from '../broker/local-signer.js';
import { RequestIds } from '../broker/request-ids.js';
import type { FilePort } from '../log/file-port.js';
import { JOURNAL_FILE, SNAPSHOT_FILES, type JournalFiles } from '../log/journal/journal.js';
import { MemoryDir, type MemoryFile } from '../log/memory-file.js';
import { stateDigest } from '../projections/signer-state.js';
import { toHex } from '../signer/bytes.js';
import { Signer } from '../signer/signer.js';
import { sessionRequests, sessionSignerOptions } from '../test/session-records.js';
import { SignerCore } from './signer-core.js';

const NAME = 'session-basic-l1.jsonl';
const requests = sessionRequests(NAME);
const options = sessionSignerOptions(NAME);
const enospc = (): Error => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

/** The journal of `dir` behind a port whose next append or sync throws once `fail` says so. */
function failingFiles(dir: MemoryDir, fail: { append: boolean; sync: boolean }): JournalFiles {
  const file = dir.open(JOURNAL_FILE) as MemoryFile;
  const journal: FilePort = {
    name: file.name,
    size: () => file.size(),
    read: (offset, length) => file.read(offset, length),
    append: (bytes) => {
      if (fail.append) throw enospc();
      file.append(bytes);
    },
    sync: () => {
      if (fail.sync) throw enospc();
      file.sync();
    },
    truncate: (length) => file.truncate(length),
  };
  return { journal, slots: [dir.open(SNAPSHOT_FILES[0]), dir.open(SNAPSHOT_FILES[1])] };
}

const openCore = (files: JournalFiles, syncReadOnly = true) =>
  SignerCore.open(files, (state) => new Signer(options, state), { syncReadOnly }).core;

/** The index of the first request whose decision has events (a sync is owed before its reply). */
const firstChanging = (from: number): number => {
  const signer = new Signer(options);
  for (let i = 0; i < requests.length; i++) if (signer.handle(requests[i]!.envelope).events.length > 0 && i >= from) return i;
  throw new Error('no state-changing request');
};

for (const what of ['sync', 'append'] as const) {
  test(`a failed ${what} stops the core: no reply, every later call throws it, the state stays where the disk is`, () => {
    const dir = new MemoryDir();
    const fail = { append: false, sync: false };
    const core = openCore(failingFiles(dir, fail));
    const at = firstChanging(20);
    for (const r of requests.slice(0, at)) core.handle(r.envelope);
    const before = toHex(stateDigest(core.state));
    fail[what] = true;
    assert.throws(() => core.handle(requests[at]!.envelope), /ENOSPC/);
    assert.match(String(core.stoppedBy), /ENOSPC/);
    fail[what] = false; // the disk is fine again: the core stays stopped all the same
    assert.throws(() => core.handle(requests[at + 1]!.envelope), /ENOSPC/);
    assert.throws(() => core.begin(), /ENOSPC/);
    assert.throws(() => core.commit('control', [], 0), /ENOSPC/);
    assert.throws(() => core.flush(), /ENOSPC/);
    assert.equal(toHex(stateDigest(core.state)), before, 'the failed request changed nothing in memory');

    dir.crash();
    const reopened = openCore(failingFiles(dir, fail));
    assert.equal(reopened.lastId, requests[at - 1]!.envelope.id, 'every acknowledged record, nothing after');
    assert.equal(toHex(stateDigest(reopened.state)), before);
    const again = reopened.handle(requests[at]!.envelope);
    assert.equal(again.replayed, false);
  });
}

test('a batch whose write fails stops the core, though its decisions were applied in memory', () => {
  const dir = new MemoryDir();
  const fail = { append: false, sync: false };
  const core = openCore(failingFiles(dir, fail));
  for (const r of requests.slice(0, 10)) core.handle(r.envelope);
  const batch = core.begin();
  for (const r of requests.slice(10, 14)) batch.handle(r.envelope);
  fail.append = true;
  assert.throws(() => batch.commit(), /ENOSPC/);
  assert.throws(() => core.begin(), /ENOSPC/, 'nothing more is decided on a state the journal may lack');
  dir.crash();
  assert.equal(openCore(failingFiles(dir, { append: false, sync: false })).lastId, requests[9]!.envelope.id);
});

test('the in-process signer answers a stopped core with a fatal reply that says what failed and what to do', async () => {
  const dir = new MemoryDir();
  const fail = { append: false, sync: false };
  const core = openCore(failingFiles(dir, fail), false);
  const port = groupCommitting(core, new RequestIds(0n), () => {}, 3_600_000);
  const ask = (i: number) => port.request({ client: requests[i]!.envelope.client, at: 0, message: requests[i]!.envelope.message });
  for (let i = 0; i < 5; i++) assert.equal((await ask(i)).kind, 'frame');
  fail.sync = true;
  const at = firstChanging(5);
  for (let i = 5; i < at; i++) assert.equal((await ask(i)).kind, 'frame', 'read-only: no sync owed yet');
  for (const reply of [await ask(at), await ask(at + 1)]) {
    assert.equal(reply.kind, 'fatal');
    assert.match(reply.kind === 'fatal' ? reply.description : '', /^signer journal: a write or sync failed \(ENOSPC.*\), so what was decided may not be on the disk: this hsmd signs nothing more\. Free space on the disk or replace it, then restart lightningd/);
  }
  const logged: string[] = [];
  await groupCommitting(core, new RequestIds(0n), (_level, line) => logged.push(line), 3_600_000).close();
  assert.match(logged.join('\n'), /ENOSPC/, 'closing a stopped core says why it could not flush');
  await port.close();
});

/**
 * The local signer's group commit (docs/journal.md "Read-only replies"): the requests that
 * arrive in one event-loop turn, from any client, are one batch with at most one journal
 * sync, none when no decision in it has events; every reply is CLN's recorded one, and the
 * read-only records are synced by the flush that follows (close here).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { SignerCore } from '../core/signer-core.js';
import { JOURNAL_FILE, openJournalFiles } from '../log/journal/journal.js';
import { MemoryDir, type MemoryFile } from '../log/memory-file.js';
import { toHex } from '../signer/bytes.js';
import { Signer } from '../signer/signer.js';
import { liveSession, sessionSignerOptions } from '../test/session-records.js';
import { groupCommitting } from './local-signer.js';
import { RequestIds } from './request-ids.js';

const NAME = 'session-basic-l1.jsonl';
const { decisions } = liveSession(NAME);

test('requests of one turn, from several clients, share one sync; a turn of read-only requests has none', async () => {
  const dir = new MemoryDir();
  const { core } = SignerCore.open(openJournalFiles(dir), (state) => new Signer(sessionSignerOptions(NAME), state), { syncReadOnly: false });
  const journal = dir.open(JOURNAL_FILE) as MemoryFile;
  // No timed flush during the test (its sync would land between turns): close flushes.
  const port = groupCommitting(core, new RequestIds(0n), () => {}, 3_600_000);
  let withSync = 0;
  for (let at = 0; at < decisions.length; at += 7) {
    const turn = decisions.slice(at, at + 7);
    const before = journal.syncs;
    // All issued in this turn: the port handles them together once the turn ends.
    const replies = await Promise.all(turn.map(({ envelope }) => port.request({ client: envelope.client, at: envelope.at, message: envelope.message })));
    const changing = turn.some((d) => d.decision.events.length > 0);
    assert.equal(journal.syncs - before, changing ? 1 : 0, `requests ${at + 1}..${at + turn.length}`);
    if (changing) withSync++;
    replies.forEach((reply, i) => assert.equal(reply.kind === 'frame' ? toHex(reply.frame) : reply.kind, toHex((turn[i]!.decision.reply as { frame: Uint8Array }).frame), `request ${at + i + 1}`));
  }
  assert.ok(withSync > 0 && withSync < Math.ceil(decisions.length / 7), 'the session has turns of both kinds');
  assert.ok(decisions.some((d, i) => i % 7 > 0 && d.envelope.client.dbid !== decisions[i - 1]!.envelope.client.dbid), 'some turn mixes clients');
  await port.close();
  assert.equal(core.unsynced, 0, 'close synced the records that rode along');
});

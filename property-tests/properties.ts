/**
 * The crash-safety properties of the device core (docs/design.md#checks, docs/property-tests.md), each a
 * fast-check property over scenarios of node-model.ts run by harness.ts.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JournalRollbackError } from '../log/journal/high-water.js';
import { JournalCorruptError } from '../log/journal/frame.js';
import { JOURNAL_FILE, SNAPSHOT_FILES } from '../log/journal/journal.js';
import { stateDigest } from '../projections/signer-state.js';
import { toHex } from '../signer/bytes.js';
import { replyText, run, type RunOptions, type Trace } from './harness.js';
import { FIRST_REVOKED, type ModelOptions, RECORDED, revokedProbe, REVOKED_THROUGH, scenarios, type Scenario } from './node-model.js';

const digestOf = (t: Trace) => toHex(stateDigest(t.core.state));
const recordedText = (rep: string | null) => (rep === null ? 'none' : rep);

/** (a) After a crash anywhere, recovery gives the crash-free state of what was durable. */
export function recoveryRestoresState(options: RunOptions = {}, model: ModelOptions = {}): fc.IProperty<[Scenario]> {
  return fc.property(scenarios({ crashes: true, restarts: true, nodeRequests: true, ...model }), (scenario) => {
    const t = run(scenario, options);
    for (const r of t.recoveries) {
      assert.equal(r.got, r.expected, `step ${r.step + 1}: the state recovered ${r.why} is not the crash-free state of the acknowledged records`);
      if (r.tornExpected !== undefined) {
        assert.equal(r.notes.some((n) => /torn last write/.test(n)), r.tornExpected, `step ${r.step + 1}: torn tail reported? ${r.notes}`);
      }
    }
    assert.equal(digestOf(t), t.digests.at(-1), 'final state differs from the crash-free run');
  });
}

/** (b) Every acknowledged reply is the crash-free one, and the same when asked again, after any crash. */
export function repliesSurviveCrashes(): fc.IProperty<[Scenario]> {
  return fc.property(scenarios({ crashes: true, redeliveries: true, nodeRequests: true, restarts: true }), (scenario) => {
    const t = run(scenario);
    for (const a of t.answers) {
      const what = `step ${a.step + 1} #${a.id} ${a.request.label}`;
      assert.equal(a.reply, a.expected, `${what}: reply differs from the crash-free run`);
      if (!a.again && a.request.recorded !== undefined) assert.equal(a.reply, recordedText(a.request.recorded), `${what}: reply differs from CLN's recording`);
      assert.equal(a.replayed, a.again || a.wasDurable, `${what}: answered from the journal?`);
    }
    // Reboot once more and ask every acknowledged id again, newest first.
    const core = t.reopen();
    const size = t.dir.open(JOURNAL_FILE).size();
    for (const env of [...t.acked].reverse()) {
      const h = core.handle(env);
      assert.equal(replyText(h.reply), t.expected.get(env.id), `#${env.id} asked again after a reboot`);
      assert.ok(h.replayed, `#${env.id} decided twice`);
    }
    assert.equal(t.dir.open(JOURNAL_FILE).size(), size, 'asking again journaled something');
  });
}

/**
 * (c) A torn, flipped, zero-filled, erased (0xff) or overwritten file, or one overwritten whole,
 * recovers to exactly the acknowledged state, or is refused by name with the journal as the
 * fault left it (nothing cut but reserved space, so nothing more is lost): JournalCorruptError
 * with an offset (damage; a torn frame or blank tail is damage only where the high-water mark,
 * kept apart from the journal, shows answered records were there), or JournalRollbackError when
 * the journal reads clean but ends below the mark. A journal overwritten whole with no snapshot
 * is refused at offset 0 (nothing of what it held is left to recover from). Refused, there is
 * no core: nothing is signed from the damaged state.
 */
export function damagedJournalNeverSilentlyWrong(media: ModelOptions['media'] = true): fc.IProperty<[Scenario]> {
  return fc.property(scenarios({ crashes: true, restarts: true, media }), (scenario) => {
    const t = run(scenario);
    const m = t.media!;
    fc.pre(m.applied !== 'nothing');
    const acked = t.acked.length;
    const e = m.refused;
    if (e) assert.ok(m.journalKept, `refused (${e.message}), but the journal was cut`);
    const wholeJournal = (m.fault.kind === 'zero-file' || m.fault.kind === 'garbage-file') && m.fault.file === JOURNAL_FILE;
    if (wholeJournal && SNAPSHOT_FILES.every((name) => t.dir.open(name).size() === 0)) {
      assert.ok(e instanceof JournalCorruptError && e.offset === 0, `a journal overwritten whole, no snapshot, was not refused at offset 0: ${e?.message ?? 'it recovered'}`);
    }
    if (e instanceof JournalRollbackError) {
      assert.equal(m.fault.file, JOURNAL_FILE, `a damaged ${m.fault.file} was refused as a rollback: ${e.message}`);
      assert.ok(!wholeJournal, `a journal overwritten whole was refused as a rollback: ${e.message}`);
      assert.ok(e.journalLastId < e.mark && e.mark <= BigInt(acked), `rollback from ${e.mark} to ${e.journalLastId} with ${acked} acknowledged`);
      return;
    }
    if (e) {
      assert.ok(e instanceof JournalCorruptError && e.name === 'JournalCorruptError');
      assert.match(e.message, new RegExp(`^journal ${JOURNAL_FILE} is corrupt at byte offset ${e.offset}: `));
      assert.ok(e.offset >= 0 && e.offset <= m.journalSize, `offset ${e.offset} outside the journal's ${m.journalSize} bytes`);
      // The last (acknowledged) write torn has a torn write's shape: only the mark tells it lost a record.
      if (m.fault.kind === 'tear' && m.fault.file === JOURNAL_FILE) assert.match(e.message, MARK_REFUSES, `a torn journal write was refused, not by the mark: ${e.message}`);
      if (m.fault.kind === 'flip' && m.fault.file === JOURNAL_FILE) {
        const flipped = m.fault.offset % m.journalSize;
        assert.ok(e.offset <= flipped, `refused at ${e.offset}, after the flipped byte ${flipped}`);
      }
      return;
    }
    assert.equal(toHex(stateDigest(m.core!.state)), t.digests[acked], `a damaged ${m.fault.file} recovered a state other than the acknowledged one`);
  });
}

/** A tail refused because the high-water mark shows its records were answered (high-water.ts tailAgainstMark). */
const MARK_REFUSES = /after the last good frame \(last id \w+\), but the high-water mark in \S+ is id \d+: replies up to id \d+ were sent/;

/** (d) A revoked holder commitment is never signed, before or after crashes. */
export function revokedHolderNeverSigned(): fc.IProperty<[Scenario]> {
  return fc.property(scenarios({ minPrefix: FIRST_REVOKED, maxPrefix: RECORDED.length, crashes: true, probes: true, restarts: true }), (scenario) => {
    const t = run(scenario);
    for (const a of t.answers.filter((a) => a.request.revoked !== undefined)) {
      assert.match(a.reply, /^bad-request: .*policy-commitment-revoked-holder:/, `step ${a.step + 1}: ${a.request.label} was answered ${a.reply.slice(0, 80)}`);
      assert.equal(a.digestAfter, a.digestBefore);
    }
    // After one more reboot, ask for the latest revoked commitment with a fresh id.
    const prefix = scenario.steps.filter((s) => s.kind === 'deliver' && s.request.origin.startsWith('r')).length;
    const through = REVOKED_THROUGH[prefix]!;
    const core = t.reopen();
    const probe = revokedProbe(through);
    const h = core.handle({ id: BigInt(t.acked.length + 1), client: probe.client, at: 0, message: probe.message });
    assert.match(replyText(h.reply), /^bad-request: .*policy-commitment-revoked-holder:/, `after reboot: commitment ${through} answered ${replyText(h.reply).slice(0, 80)}`);
    assert.equal(h.events.length, 0);
  });
}

/** (e) Duplicate and reordered deliveries of answered ids change nothing. */
export function redeliveriesChangeNothing(): fc.IProperty<[Scenario]> {
  return fc.property(scenarios({ crashes: true, redeliveries: true, nodeRequests: true, smallReplyWindow: true }), (scenario) => {
    const t = run(scenario);
    const plain = run(scenario.withoutRedeliveries());
    assert.equal(digestOf(t), digestOf(plain), 'final state differs from the run without redeliveries');
    for (const name of [JOURNAL_FILE, ...SNAPSHOT_FILES]) {
      const [a, b] = [t.dir.open(name), plain.dir.open(name)];
      assert.deepEqual(a.read(0, a.size()), b.read(0, b.size()), `${name} differs from the run without redeliveries`);
    }
    const first = (x: Trace) => x.answers.filter((a) => !a.again).map((a) => `#${a.id} ${a.reply}`);
    assert.deepEqual(first(t), first(plain), 'replies to the fresh deliveries differ');
    for (const a of t.answers.filter((a) => a.again)) {
      const what = `step ${a.step + 1}: redelivery of #${a.id}`;
      assert.equal(a.digestAfter, a.digestBefore, `${what} changed the state`);
      if (a.reply === a.expected) continue;
      // Older than every reply kept across snapshots: refused by name, never decided again.
      assert.ok(Number(a.id) <= a.ackedBefore - scenario.recentReplies, `${what}: within the last ${scenario.recentReplies} but answered ${a.reply}`);
      assert.match(a.reply, new RegExp(`^bad-request: request id ${a.id} is not after the last handled id \\d+ and its reply is no longer kept`));
    }
  });
}

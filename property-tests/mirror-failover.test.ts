/**
 * Property (f): the journal mirror, restore and failover against the crash-free model
 * (docs/journal.md "Mirror", "Restore"). A primary device runs a scenario of the real node
 * (node-model.ts: the recording's prefix, node-level requests, revoked-commitment probes,
 * redeliveries, clean restarts) with its JournalMirror sending every entry over a lossy link
 * to the broker's acceptance (broker/remote/mirror-store.ts acceptEntries): any `journal`
 * message or acknowledgement may be lost, and the link may drop and come back between steps.
 * After some step the primary dies with its storage. A spare with the same seed checks the
 * broker's mirror (log/mirror/verify.ts) against the largest id the primary answered and
 * either refuses it as a rollback (then the broker really lacks an answered record) or
 * rebuilds the journal from it (firmware/app/restore.ts rebuildJournal), and takes over:
 * - its state is the crash-free state after the last answered request;
 * - every later reply, redeliveries of the primary's ids included, is the crash-free one
 *   (revoked holder commitments stay refused);
 * - no id is decided by both devices (from both journals);
 * - the chain never breaks across clean restarts (anchors): the broker is never told a new
 *   chain started, nor asked to accept an entry that does not continue it.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import fc from 'fast-check';
import { acceptEntries } from '../broker/remote/mirror-store.js';
import { type JournalObserver, SignerCore } from '../core/signer-core.js';
import { JournalMirror, openAnchorFiles } from '../firmware/app/mirror.js';
import { rebuildJournal } from '../firmware/app/restore.js';
import type { Clock, TimerHandle } from '../firmware/app/ports.js';
import { Journal, openJournalFiles } from '../log/journal/journal.js';
import { isSourced } from '../log/journal/record.js';
import { MemoryDir } from '../log/memory-file.js';
import { type ChainPosition, type MirrorEntry, positionAfter } from '../log/mirror/entry.js';
import { decodeJournal, encodeAck } from '../log/mirror/messages.js';
import { checkMirror, MirrorRefusedError } from '../log/mirror/verify.js';
import { stateDigest } from '../projections/signer-state.js';
import { toHex } from '../signer/bytes.js';
import type { Envelope } from '../signer/envelope.js';
import { bootSigner, Reference, replyText } from './harness.js';
import { type Scenario, scenarios } from './node-model.js';
import { assertProperty } from './settings.js';

const KEY = new Uint8Array(32).fill(0x5a);

/** Timers run when the test says: the 0 ms ones after each step (the mirror's flush). */
class StepClock implements Clock {
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 0;
  now = (): number => 0;
  after(ms: number, fn: () => void): TimerHandle {
    const id = this.#next++;
    this.#timers.set(id, { at: ms, fn });
    return { __timer: id };
  }
  cancel(timer: TimerHandle): void {
    this.#timers.delete(timer.__timer as number);
  }
  runImmediate(): void {
    for (const [id, t] of [...this.#timers]) if (t.at === 0 && this.#timers.delete(id)) t.fn();
  }
}

/** The broker's side: acceptEntries over a stored list, as MirrorDb keeps it. */
class BrokerMirror {
  tip: ChainPosition | undefined;
  entries: MirrorEntry[] = [];
  readonly notes: string[] = [];
  receive(payload: Uint8Array): Uint8Array {
    const a = acceptEntries(this.tip, decodeJournal(payload));
    this.notes.push(...a.notes);
    if (a.reset) this.entries = [];
    this.entries.push(...a.store);
    if (a.store.length) this.tip = positionAfter(a.store.at(-1)!);
    if (a.pruneBelow !== undefined) this.entries = this.entries.filter((e) => e.counter >= a.pruneBelow!);
    return encodeAck(a.ack);
  }
}

/** A lossy link: messages queued both ways, delivered by pump(), the planned ones lost. */
class Link {
  #sent = 0;
  #acks = 0;
  #queue: Uint8Array[] = [];
  constructor(
    readonly broker: BrokerMirror,
    private readonly lost: ReadonlySet<number>,
    private readonly acksLost: ReadonlySet<number>,
  ) {}
  send = async (payload: Uint8Array): Promise<void> => {
    if (!this.lost.has(this.#sent++)) this.#queue.push(payload);
  };
  pump(mirror: JournalMirror, clock: StepClock): void {
    clock.runImmediate();
    while (this.#queue.length) {
      const ack = this.broker.receive(this.#queue.shift()!);
      if (!this.acksLost.has(this.#acks++)) mirror.acked(ack);
    }
  }
}

interface Device {
  core: SignerCore;
  mirror: JournalMirror;
  clock: StepClock;
  readonly dir: MemoryDir;
  readonly decided: Set<bigint>;
}

function boot(dir: MemoryDir, scenario: Scenario, link: Link, decided = new Set<bigint>()): Device {
  const clock = new StepClock();
  const mirror = new JournalMirror({ key: KEY, dir, clock, publish: link.send, log: () => {} });
  const observer: JournalObserver = mirror;
  const { core } = SignerCore.open(openJournalFiles(dir), bootSigner, { snapshotEvery: scenario.snapshotEvery, recentReplies: scenario.recentReplies, observer });
  mirror.connected();
  const device = { core, mirror, clock, dir, decided };
  link.pump(mirror, clock);
  return device;
}

/** The ids a journal directory holds records for (after its snapshot). */
const journaledIds = (dir: MemoryDir): bigint[] =>
  Journal.open(openJournalFiles(dir)).recovery.entries.flatMap(({ entry }) => (isSourced(entry) ? [] : [entry.id]));

const plans = fc.record({
  scenario: scenarios({ redeliveries: true, nodeRequests: true, probes: true, restarts: true }),
  dieAfter: fc.nat(),
  lost: fc.array(fc.nat(60), { maxLength: 4 }),
  acksLost: fc.array(fc.nat(60), { maxLength: 4 }),
  reconnects: fc.array(fc.nat(), { maxLength: 4 }),
});

type Plan = typeof plans extends fc.Arbitrary<infer T> ? T : never;

function mirrorRestoreFailover(): fc.IProperty<[Plan]> {
  return fc.property(plans, ({ scenario, dieAfter, lost, acksLost, reconnects }) => {
    const steps = scenario.steps;
    const death = dieAfter % steps.length;
    const reconnectAfter = new Set(reconnects.map((r) => r % steps.length));
    const broker = new BrokerMirror();
    const link = new Link(broker, new Set(lost), new Set(acksLost));
    const reference = new Reference();
    const expected = new Map<bigint, string>();
    const answered: Envelope[] = [];
    let device = boot(new MemoryDir(), scenario, link);
    const primary = device;
    let repliedUpTo = 0n;
    let restoredUpTo: bigint | undefined;

    for (const [i, step] of steps.entries()) {
      if (step.kind === 'media') continue;
      if (step.kind === 'restart') {
        device = boot(device.dir, scenario, link, device.decided);
      } else {
        const env: Envelope = step.kind === 'deliver'
          ? { id: step.id, client: step.request.client, at: 0, message: step.request.message }
          : answered[Number(step.id) - 1]!;
        if (step.kind === 'deliver') expected.set(env.id, reference.deliver(step.request, env));
        const h = device.core.handle(env);
        assert.equal(replyText(h.reply), expected.get(env.id), `step ${i + 1}: id ${env.id} (${device === primary ? 'primary' : 'spare'})`);
        if (!h.replayed) device.decided.add(env.id);
        if (step.kind === 'deliver') answered.push(env);
        if (device === primary && env.id > repliedUpTo) repliedUpTo = env.id;
      }
      link.pump(device.mirror, device.clock);
      if (reconnectAfter.has(i)) {
        device.mirror.disconnected();
        device.mirror.connected();
        link.pump(device.mirror, device.clock);
      }
      if (i !== death || device !== primary) continue;
      // The primary dies with its storage; the spare takes over only from a mirror that is whole.
      let checked;
      try {
        checked = checkMirror(KEY, broker.entries, { repliedUpTo });
      } catch (e) {
        assert.ok(e instanceof MirrorRefusedError && e.problem === 'rollback', String(e));
        const stored = new Set(broker.entries.flatMap((m) => (m.kind === 'record' ? [m.counter] : [])));
        assert.ok(primary.mirror.position.counter > (broker.tip?.counter ?? 0n) || stored.size === 0, 'refused only when the broker lacks entries the primary made');
        return;
      }
      const spareDir = new MemoryDir();
      const { journal } = Journal.open(openJournalFiles(spareDir));
      rebuildJournal(journal, openAnchorFiles(spareDir), checked);
      device = boot(spareDir, scenario, link);
      restoredUpTo = checked.lastId;
      assert.equal(toHex(stateDigest(device.core.state)), reference.digest, 'the spare starts from the crash-free state');
    }
    if (restoredUpTo === undefined) return;
    const spare = device;
    for (const id of spare.decided) assert.ok(!primary.decided.has(id), `id ${id} decided by both devices`);
    const fromPrimary = new Set(journaledIds(primary.dir));
    for (const id of journaledIds(spare.dir)) if (id > restoredUpTo) assert.ok(!fromPrimary.has(id), `id ${id} in both journals as a decision`);
    assert.deepEqual(broker.notes.filter((n) => /new mirror chain|does not continue/.test(n)), [], 'the chain continued across restarts');
  });
}

test('property: mirror + restore + failover: the spare answers as the crash-free model, nothing decided twice', () => {
  assertProperty(mirrorRestoreFailover(), 25);
});

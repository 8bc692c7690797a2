/**
 * Property (f): the journal mirror, restore and failover against the crash-free model
 * (docs/journal.md "Mirror", "Restore"). A primary device runs a scenario of the real node
 * (node-model.ts: the recording's prefix, node-level requests, revoked-commitment probes,
 * redeliveries, clean restarts, and power lost at any write of the device: journal append or
 * sync, snapshot, compaction, the mirror's anchor files; harness.ts FaultyDir) with its JournalMirror sending every entry over a lossy link
 * to the broker's acceptance (broker/remote/mirror-store.ts acceptEntries): any `journal`
 * message or acknowledgement may be lost, and the link may drop and come back between steps;
 * the broker may lose its whole mirror and reconnect (the device then makes a snapshot); the
 * device may be offline for a run of steps, reboots included, with a small outbox bound
 * (mirror-outbox.ts: past it a snapshot stands in for the entries not acknowledged).
 * A crashed primary's messages already sent reach the broker, their acknowledgements are lost;
 * it reboots through SignerCore.open and the mirror's recovery (JournalMirror.recovered) and
 * gets the delivery again.
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
import type { JournalObserver } from '../core/journal-observer.js';
import { SignerCore } from '../core/signer-core.js';
import type { FileDir } from '../log/file-port.js';
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
import { bootSigner, crashDuring, FaultyDir, Reference, replyText } from './harness.js';
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
  /** While true nothing is lost (a reconnect that goes through). */
  holds = false;
  send = async (payload: Uint8Array): Promise<void> => {
    if (!this.lost.has(this.#sent++) || this.holds) this.#queue.push(payload);
  };
  /** Delivers what was sent, and the acknowledgements to `mirror` (none to a device that lost its power). */
  pump(mirror: JournalMirror | undefined, clock?: StepClock): void {
    clock?.runImmediate();
    for (let n = 0; this.#queue.length; n++) {
      // A device and a broker that keep asking each other for the same entries never settle.
      assert.ok(n < 1000, `the mirror does not settle: ${this.broker.notes.slice(-2).join('; ')}`);
      const ack = this.broker.receive(this.#queue.shift()!);
      if (mirror && (!this.acksLost.has(this.#acks++) || this.holds)) mirror.acked(ack);
    }
  }
}

interface Device {
  core: SignerCore;
  mirror: JournalMirror;
  clock: StepClock;
  readonly dir: FileDir;
  readonly decided: Set<bigint>;
}

/** How a device boots: its outbox bound (undefined: the default), and whether the link is down. */
interface Boot {
  readonly outboxBytes: number | undefined;
  offline: boolean;
}

function boot(dir: FileDir, scenario: Scenario, link: Link, how: Boot, decided = new Set<bigint>()): Device {
  const clock = new StepClock();
  let opened: SignerCore | undefined;
  const mirror = new JournalMirror({ key: KEY, dir, clock, publish: link.send, log: () => {}, snapshotNeeded: () => opened?.snapshotSoon(), outboxBytes: how.outboxBytes });
  const observer: JournalObserver = mirror;
  const { core } = SignerCore.open(openJournalFiles(dir), bootSigner, { snapshotEvery: scenario.snapshotEvery, recentReplies: scenario.recentReplies, observer });
  opened = core;
  if (!how.offline) mirror.connected();
  const device = { core, mirror, clock, dir, decided };
  link.pump(mirror, clock);
  return device;
}

/** The ids a journal directory holds records for (after its snapshot). */
const journaledIds = (dir: FileDir): bigint[] =>
  Journal.open(openJournalFiles(dir)).recovery.entries.flatMap(({ entry }) => (isSourced(entry) ? [] : [entry.id]));

const plansOf = (scenario: fc.Arbitrary<Scenario>) => fc.record({
  scenario,
  dieAfter: fc.nat(),
  lost: fc.array(fc.nat(60), { maxLength: 4 }),
  acksLost: fc.array(fc.nat(60), { maxLength: 4 }),
  reconnects: fc.array(fc.nat(), { maxLength: 4 }),
  /** After this step the broker loses its mirror (its directory deleted) and restarts. */
  mirrorLost: fc.option(fc.nat(), { nil: undefined }),
  /** In one run of four, the device is offline from this step for this many steps. */
  offline: fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.record({ from: fc.nat(), steps: fc.integer({ min: 1, max: 60 }) }) },
  ),
  /** Small enough for a few entries (about 600 bytes each), or the default. */
  outboxBytes: fc.constantFrom(undefined, 3000, 12_000),
});

type Plan = ReturnType<typeof plansOf> extends fc.Arbitrary<infer T> ? T : never;

function mirrorRestoreFailover(scenario: fc.Arbitrary<Scenario>): fc.IProperty<[Plan]> {
  return fc.property(plansOf(scenario), ({ scenario, dieAfter, lost, acksLost, reconnects, mirrorLost, offline, outboxBytes }) => {
    const steps = scenario.steps;
    const death = dieAfter % steps.length;
    const offlineFrom = offline ? offline.from % steps.length : -1;
    const offlineEnd = offline ? offlineFrom + offline.steps : -1;
    const how: Boot = { outboxBytes, offline: false };
    const reconnectAfter = new Set(reconnects.map((r) => r % steps.length));
    const broker = new BrokerMirror();
    const link = new Link(broker, new Set(lost), new Set(acksLost));
    const reference = new Reference();
    const expected = new Map<bigint, string>();
    const answered: Envelope[] = [];
    const primaryDir = new FaultyDir(new MemoryDir({ reserve: scenario.reserve }));
    let device = boot(primaryDir, scenario, link, how);
    let isPrimary = true;
    let primary: Device | undefined;
    let repliedUpTo = 0n;
    let restoredUpTo: bigint | undefined;
    let refused = false;

    for (const [i, step] of steps.entries()) {
      if (step.kind === 'media') continue;
      if (i === offlineFrom) {
        how.offline = true;
        device.mirror.disconnected();
      }
      if (step.kind === 'restart') {
        device = boot(device.dir, scenario, link, how, device.decided);
      } else {
        const env: Envelope = step.kind === 'deliver'
          ? { id: step.id, client: step.request.client, at: 0, message: step.request.message }
          : answered[Number(step.id) - 1]!;
        if (step.kind === 'deliver') expected.set(env.id, reference.deliver(step.request, env));
        for (const crash of step.kind === 'deliver' && isPrimary ? step.crashes : []) {
          // Decided perhaps (its record may have survived); sent entries arrive, acknowledgements do not.
          crashDuring(primaryDir, crash, () => device.core.handle(env));
          device.decided.add(env.id);
          link.pump(undefined);
          device = boot(primaryDir, scenario, link, how, device.decided);
        }
        const h = device.core.handle(env);
        assert.equal(replyText(h.reply), expected.get(env.id), `step ${i + 1}: id ${env.id} (${isPrimary ? 'primary' : 'spare'})`);
        if (!h.replayed) device.decided.add(env.id);
        if (step.kind === 'deliver') answered.push(env);
        if (isPrimary && env.id > repliedUpTo) repliedUpTo = env.id;
      }
      link.pump(device.mirror, device.clock);
      if (mirrorLost !== undefined && i === mirrorLost % steps.length) {
        // The broker restarts without its mirror; the device's reconnect goes through.
        broker.tip = undefined;
        broker.entries = [];
        link.holds = true;
      }
      if (i + 1 === offlineEnd) how.offline = false;
      if (!how.offline && (reconnectAfter.has(i) || link.holds || i + 1 === offlineEnd)) {
        device.mirror.disconnected();
        device.mirror.connected();
        link.pump(device.mirror, device.clock);
        link.holds = false;
      }
      if (i !== death || !isPrimary) continue;
      // The primary dies with its storage; the spare takes over only from a mirror that is whole.
      let checked;
      try {
        checked = checkMirror(KEY, broker.entries, { repliedUpTo });
      } catch (e) {
        assert.ok(e instanceof MirrorRefusedError && e.problem === 'rollback', String(e));
        const stored = new Set(broker.entries.flatMap((m) => (m.kind === 'record' ? [m.counter] : [])));
        assert.ok(device.mirror.position.counter > (broker.tip?.counter ?? 0n) || stored.size === 0, 'refused only when the broker lacks entries the primary made');
        // What the broker acknowledged it holds: after losing its mirror it is made whole again,
        // once the primary reconnects (link.holds until then: it was offline).
        assert.ok(device.mirror.unacknowledged > 0 || link.holds, 'refused only while the primary has entries the broker did not acknowledge');
        refused = true;
        break;
      }
      const spareDir = new MemoryDir();
      const { journal } = Journal.open(openJournalFiles(spareDir));
      rebuildJournal(journal, openAnchorFiles(spareDir), checked);
      primary = device;
      how.offline = false; // the spare's own link
      device = boot(spareDir, scenario, link, how);
      isPrimary = false;
      restoredUpTo = checked.lastId;
      assert.equal(toHex(stateDigest(device.core.state)), reference.digest, 'the spare starts from the crash-free state');
    }
    assert.deepEqual(broker.notes.filter((n) => /new mirror chain|does not continue/.test(n)), [], 'the chain continued across restarts and crashes');
    if (refused) return;
    assert.ok(restoredUpTo !== undefined, 'the primary died at its step');
    const spare = device;
    for (const id of spare.decided) assert.ok(!primary!.decided.has(id), `id ${id} decided by both devices`);
    const fromPrimary = new Set(journaledIds(primary!.dir));
    for (const id of journaledIds(spare.dir)) if (id > restoredUpTo!) assert.ok(!fromPrimary.has(id), `id ${id} in both journals as a decision`);
  });
}

test('property: mirror + restore + failover: the spare answers as the crash-free model, nothing decided twice', () => {
  assertProperty(mirrorRestoreFailover(scenarios({ redeliveries: true, nodeRequests: true, probes: true, restarts: true, crashes: true })), 25);
});

// Short sessions snapshotting often, so crashes land in the snapshot's writes (the anchor's
// first, then the slot's, then compaction): the anchor-before-snapshot order is what keeps
// the chain whole across them.
test('property: mirror + restore + failover with the power lost in snapshot and anchor writes', () => {
  assertProperty(mirrorRestoreFailover(scenarios({ maxPrefix: 30, snapshotEvery: [2, 3], redeliveries: true, restarts: true, crashes: true })), 60);
});

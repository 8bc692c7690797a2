/**
 * Runs a Scenario (node-model.ts) through a SignerCore on in-memory files that lose power
 * where the scenario says, next to the crash-free reference run of the same deliveries,
 * and records what the properties compare: every answer with the crash-free reply, every
 * recovery with the crash-free state digest of what was durable.
 *
 * The device model: on boot the keys come from the seed the device holds (here: the
 * recorded hsmd_init unlocks them; its decision is discarded), because a device that
 * reboots mid-session gets no second hsmd_init from lightningd. The state is the journal's.
 */
import { JournalCorruptError, MAX_FRAME_PAYLOAD } from '../log/journal/frame.js';
import { JOURNAL_FILE, openJournalFiles, type JournalFiles } from '../log/journal/journal.js';
import { type FileDir, type FilePort, type OpenOptions, reserveFillAt } from '../log/file-port.js';
import { MemoryDir, type MemoryFile } from '../log/memory-file.js';
import { SignerCore } from '../core/signer-core.js';
import { JournalRollbackError, slotMark } from '../log/journal/high-water.js';
import { stateDigest } from '../projections/signer-state.js';
import { toHex } from '../signer/bytes.js';
import type { Reply } from '../signer/decision.js';
import type { Envelope } from '../signer/envelope.js';
import { Signer } from '../signer/signer.js';
import type { SignerState } from '../signer/state.js';
import { sessionSignerOptions } from '../test/session-records.js';
import { type Crash, type MediaFault, RECORDED, type Request, type Scenario, SESSION } from './node-model.js';

const OPTIONS = sessionSignerOptions(SESSION);
const INIT = RECORDED[0]!;

/** A Signer on `state` with the keys unlocked from the seed, as the device boots. */
export function bootSigner(state?: SignerState): Signer {
  const signer = new Signer(OPTIONS, state);
  signer.decide({ id: 0n, client: INIT.client, at: 0, message: INIT.message });
  return signer;
}

export const replyText = (r: Reply): string =>
  r.kind === 'frame' ? toHex(r.frame) : r.kind === 'none' ? 'none' : `${r.kind}: ${r.description}`;
const digestOf = (s: SignerState): string => toHex(stateDigest(s));

/** Thrown by a FaultyFile where the power goes. */
export class PowerLoss extends Error {}

/** Where the power goes during the current handle(), and what became durable. */
export class PowerCut {
  plan: Crash | undefined;
  recordSynced = false;
  writesAfterSync = 0;
  /** The journal's unsynced bytes when the power went before its sync. */
  unsyncedAtCut = 0;

  arm(plan: Crash): void {
    Object.assign(this, { plan, recordSynced: false, writesAfterSync: 0, unsyncedAtCut: 0 });
  }

  beforeAppend(isJournal: boolean): void {
    if (this.plan?.at === 'before-append' && isJournal && !this.recordSynced) throw new PowerLoss();
    this.#writeAfterSync();
  }

  beforeSync(journal: MemoryFile | undefined): void {
    if (journal !== undefined && !this.recordSynced) {
      if (this.plan?.at !== 'before-sync' && this.plan?.at !== 'blank-filled') return;
      this.unsyncedAtCut = journal.unsynced;
      throw new PowerLoss();
    }
    this.#writeAfterSync();
  }

  afterSync(isJournal: boolean): void {
    if (!isJournal || this.recordSynced || this.plan === undefined) return;
    this.recordSynced = true;
    if (this.plan.at === 'after-sync' && this.plan.write === 0) throw new PowerLoss();
  }

  beforeTruncate(): void {
    this.#writeAfterSync();
  }

  /** Snapshot and compaction writes after the record's sync: the `write`-th loses power. */
  #writeAfterSync(): void {
    if (this.plan?.at === 'after-sync' && this.recordSynced && ++this.writesAfterSync === this.plan.write) throw new PowerLoss();
  }
}

/** A FilePort over a MemoryFile that consults the PowerCut before each write and sync. */
export class FaultyFile implements FilePort {
  constructor(
    readonly inner: MemoryFile,
    private readonly cut: PowerCut,
    private readonly isJournal: boolean,
  ) {}
  get name(): string {
    return this.inner.name;
  }
  size(): number {
    return this.inner.size();
  }
  read(offset: number, length: number): Uint8Array {
    return this.inner.read(offset, length);
  }
  /** Length of the last append since the last truncation or crash (for tearing it). */
  lastAppend = 0;
  append(bytes: Uint8Array): void {
    this.cut.beforeAppend(this.isJournal);
    this.inner.append(bytes);
    this.lastAppend = bytes.length;
  }
  sync(): void {
    this.cut.beforeSync(this.isJournal ? this.inner : undefined);
    this.inner.sync();
    this.cut.afterSync(this.isJournal);
  }
  truncate(length: number): void {
    this.cut.beforeTruncate();
    this.inner.truncate(length);
    this.lastAppend = 0;
  }
}

/**
 * A FileDir whose every file consults one PowerCut (the journal as the journal, the rest,
 * snapshot slots and the mirror's anchors, as writes after the record's sync): the power can
 * go at any write of the device.
 */
export class FaultyDir implements FileDir {
  readonly #files = new Map<string, FaultyFile>();
  readonly cut = new PowerCut();
  constructor(readonly inner: MemoryDir) {}
  open(name: string, options?: OpenOptions): FaultyFile {
    let file = this.#files.get(name);
    if (file === undefined) this.#files.set(name, (file = new FaultyFile(this.inner.open(name, options), this.cut, name === JOURNAL_FILE)));
    return file;
  }
  /** Every file loses its unsynced writes but the first `keep` bytes (a torn write). */
  crash(keep: number): void {
    this.inner.crash(keep);
    for (const f of this.#files.values()) f.lastAppend = 0;
  }
}

/**
 * Runs `handle` (one delivery) with the power going as `crash` says, then loses what that
 * power loss loses; returns whether the delivery's record survived (durable).
 */
export function crashDuring(dir: FaultyDir, crash: Crash, handle: () => void): boolean {
  const { cut } = dir;
  let durable = false;
  cut.arm(crash);
  try {
    handle(); // returned: the power goes before the reply leaves
    durable = true;
  } catch (e) {
    if (!(e instanceof PowerLoss)) throw e;
    if (crash.at === 'after-sync') durable = true;
    if (crash.at === 'before-sync') durable ||= crash.keep >= cut.unsyncedAtCut;
  }
  cut.plan = undefined;
  if (crash.at === 'blank-filled' && !durable) dir.inner.open(JOURNAL_FILE).crashKeepingSize(crash.keep % Math.max(1, cut.unsyncedAtCut), crash.blank);
  dir.crash(crash.at === 'before-append' || crash.at === 'blank-filled' ? 0 : crash.keep);
  return durable;
}

/** One answer the core gave: to a fresh delivery or a redelivery. */
export interface Answer {
  readonly step: number;
  readonly id: bigint;
  readonly again: boolean;
  readonly request: Request;
  readonly reply: string;
  readonly replayed: boolean;
  /** The crash-free run's reply to this id. */
  readonly expected: string;
  /** For a fresh delivery after crashes: whether its record had become durable. */
  readonly wasDurable: boolean;
  /** State digests around the answer. */
  readonly digestBefore: string;
  readonly digestAfter: string;
  /** How many ids were acknowledged before this answer. */
  readonly ackedBefore: number;
}

export interface RecoveryCheck {
  readonly step: number;
  readonly why: string;
  readonly expected: string;
  readonly got: string;
  readonly notes: readonly string[];
  readonly tornExpected: boolean | undefined;
}

export interface MediaOutcome {
  readonly fault: MediaFault;
  /** What the fault did ('nothing' if there was nothing to damage). */
  readonly applied: 'flipped' | 'torn' | 'overwritten' | 'nothing';
  readonly refused?: JournalCorruptError | JournalRollbackError;
  /** When refused: whether the journal was left as the fault left it (but for reserved space cut after its content). */
  readonly journalKept?: boolean;
  readonly core?: SignerCore;
  readonly journalSize: number;
}

export interface Trace {
  readonly answers: Answer[];
  readonly recoveries: RecoveryCheck[];
  /** The crash-free digest after each acknowledged id (index 0: before any). */
  readonly digests: string[];
  readonly acked: Envelope[];
  /** The crash-free reply of every id delivered. */
  readonly expected: Map<bigint, string>;
  core: SignerCore;
  readonly dir: MemoryDir;
  /** Reboots the device on the same files (no crash). */
  readonly reopen: () => SignerCore;
  media?: MediaOutcome;
}

export interface RunOptions {
  /** Wraps the journal file (a test's deliberately broken variant). */
  readonly wrapJournal?: (file: FilePort) => FilePort;
  /** The mark kept apart, committed on every write (the ESP32's NVS), instead of slot files that crash with the journal. */
  readonly markApart?: boolean;
}

/** The crash-free reference: the recording's spine is shared, a detour runs live. */
export class Reference {
  static readonly spine: { state: SignerState; reply: string }[] = [];
  #onSpine = true;
  #k = 0;
  #live: Signer | undefined;
  #state: SignerState = bootSigner().state;

  deliver(request: Request, env: Envelope): string {
    if (this.#onSpine && request.origin === `r${this.#k}`) {
      const spine = Reference.spine;
      if (spine.length === this.#k) {
        const signer = bootSigner(this.#state);
        const reply = replyText(signer.handle(env).reply);
        spine.push({ state: signer.state, reply });
      }
      this.#state = spine[this.#k++]!.state;
      return spine[this.#k - 1]!.reply;
    }
    this.#onSpine = false;
    this.#live ??= bootSigner(this.#state);
    const reply = replyText(this.#live.handle(env).reply);
    this.#state = this.#live.state;
    return reply;
  }

  get digest(): string {
    return digestOf(this.#state);
  }
}

export function run(scenario: Scenario, options: RunOptions = {}): Trace {
  const dir = new MemoryDir({ reserve: scenario.reserve });
  const faulty = new FaultyDir(dir);
  const { journal, slots } = openJournalFiles(faulty);
  const files: JournalFiles = { journal: options.wrapJournal ? options.wrapJournal(journal) : journal, slots };
  // Kept apart from the journal (its own files, not hit by the faults): high-water.ts.
  const mark = options.markApart ? slotMark(new MemoryDir(), 'NVS') : slotMark(dir, 'memory');
  const coreOptions = { snapshotEvery: scenario.snapshotEvery, recentReplies: scenario.recentReplies };
  let notes: string[] = [];
  const open = () => {
    notes = [];
    return SignerCore.open(files, bootSigner, { ...coreOptions, mark, log: (l) => notes.push(l) }).core;
  };
  const reference = new Reference();
  const expectedReplies = new Map<bigint, string>();
  const trace: Trace = { answers: [], recoveries: [], digests: [reference.digest], acked: [], expected: expectedReplies, core: open(), dir, reopen: open };
  const recover = (step: number, why: string, expected: string, tornExpected?: boolean) => {
    trace.core = open();
    trace.recoveries.push({ step, why, expected, got: digestOf(trace.core.state), notes, tornExpected });
  };
  const answer = (step: number, env: Envelope, request: Request, again: boolean, wasDurable: boolean) => {
    const digestBefore = digestOf(trace.core.state);
    const h = trace.core.handle(env);
    trace.answers.push({
      step, id: env.id, again, request, reply: replyText(h.reply), replayed: h.replayed, expected: expectedReplies.get(env.id)!,
      wasDurable, digestBefore, digestAfter: digestOf(trace.core.state), ackedBefore: trace.acked.length,
    });
  };

  scenario.steps.forEach((step, i) => {
    switch (step.kind) {
      case 'deliver': {
        const env: Envelope = { id: step.id, client: step.request.client, at: 0, message: step.request.message };
        expectedReplies.set(step.id, reference.deliver(step.request, env));
        const before = trace.digests.at(-1)!;
        const after = reference.digest;
        let durable = false;
        for (const crash of step.crashes) {
          durable = crashDuring(faulty, crash, () => trace.core.handle(env)) || durable;
          // A blank tail after the last good frame, the mark at the last acknowledged id: cut and reported as torn.
          const torn = crash.at === 'blank-filled' && !durable ? faulty.cut.unsyncedAtCut > 0
            : crash.at === 'before-sync' && !durable ? crash.keep > 0 && crash.keep < faulty.cut.unsyncedAtCut : undefined;
          recover(i, `after ${crash.at}`, durable ? after : before, torn);
        }
        answer(i, env, step.request, false, durable);
        trace.acked.push(env);
        trace.digests.push(after);
        break;
      }
      case 'redeliver': {
        const env = trace.acked[Number(step.id) - 1]!;
        answer(i, env, { origin: 'again', label: 'redelivery', client: env.client, message: env.message }, true, true);
        break;
      }
      case 'restart':
        recover(i, 'clean restart', trace.digests.at(-1)!);
        break;
      case 'media':
        trace.media = applyMedia(step.fault, dir, faulty.open(step.fault.file), open);
        break;
    }
  });
  return trace;
}

function applyMedia(fault: MediaFault, dir: MemoryDir, faulty: FaultyFile, open: () => SignerCore): MediaOutcome {
  const file = faulty.inner;
  let applied: MediaOutcome['applied'] = 'nothing';
  if (fault.kind === 'flip' && file.size() > 0) {
    file.flipBit(fault.offset % file.size(), fault.bit);
    applied = 'flipped';
  }
  if ((fault.kind === 'zero' || fault.kind === 'erase' || fault.kind === 'garbage') && file.size() > 0) {
    // At the end of the content, not of any reserved space after it.
    file.overwrite(fault.atEnd ? Math.max(0, file.contentEnd - fault.bytes.length) : fault.offset % file.size(), fault.bytes);
    applied = 'overwritten';
  }
  if ((fault.kind === 'zero-file' || fault.kind === 'garbage-file') && file.size() > 0) {
    const bytes = fault.kind === 'zero-file' ? new Uint8Array(file.size()) : garbageOf(fault.seed, file.size());
    if (fault.kind === 'garbage-file' && fault.looksTorn) new DataView(bytes.buffer).setUint32(0, MAX_FRAME_PAYLOAD);
    file.overwrite(0, bytes);
    applied = 'overwritten';
  }
  // Nothing to tear if the file was not appended to since its last truncation or crash.
  if (fault.kind === 'tear' && faulty.lastAppend > 0) {
    file.tearLastWrite(fault.keep % faulty.lastAppend);
    applied = 'torn';
  }
  const journal = dir.open(JOURNAL_FILE);
  const damaged = journal.read(0, journal.size());
  try {
    return { fault, applied, core: open(), journalSize: damaged.length };
  } catch (e) {
    if (!(e instanceof JournalCorruptError || e instanceof JournalRollbackError)) throw e;
    return { fault, applied, refused: e, journalSize: damaged.length, journalKept: onlyReserveCut(damaged, journal.read(0, journal.size())) };
  }
}

/** Whether `after` is `before` but for reserved space (its fill) cut from the end. */
function onlyReserveCut(before: Uint8Array, after: Uint8Array): boolean {
  if (after.length > before.length || !before.subarray(0, after.length).every((b, i) => b === after[i])) return false;
  return before.subarray(after.length).every((b, i) => b === reserveFillAt(after.length + i));
}

/** `length` bytes that `seed` expands to (xorshift32): garbage that a failing run prints as its seed. */
function garbageOf(seed: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed | 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

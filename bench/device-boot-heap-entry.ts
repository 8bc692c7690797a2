/**
 * What the boot memory bench (bench/device-boot-heap.ts) runs under XS and on Node: the
 * device's journal holding a snapshot and then `records` records, and the boot over it, a
 * fresh SignerCore.open with the journal mirror as its observer (offline: nothing acknowledged),
 * kept so its heap can be weighed right after open (docs/device-memory.md "Memory"). Device
 * code only: it is bundled for XS (test/device-bundle.ts).
 */
import type { JournalObserver } from '../core/journal-observer.js';
import { SignerCore } from '../core/signer-core.js';
import { DEVICE_MIRROR_OUTBOX_BYTES } from '../firmware/app/device-memory.js';
import { JournalMirror } from '../firmware/app/mirror.js';
import type { Clock } from '../firmware/app/ports.js';
import { openJournalFiles } from '../log/journal/journal.js';
import { MemoryDir } from '../log/memory-file.js';
import { type DeviceReplay, envelopeOf, makeSigner, mismatch } from './device-heap-entry.js';

const HSMD_DERIVE_SECRET = 27;
/** The mirror's key: any 32 bytes (an entry's HMAC costs the same). */
const MIRROR_KEY = new Uint8Array(32).fill(0x3c);
/** Offline: no timer the mirror sets ever fires. */
const OFFLINE_CLOCK: Clock = { now: () => 0, after: () => ({ __timer: 0 }), cancel: () => {} };

export interface BootJournal {
  /** Replies of the session that differ from the recording. */
  readonly mismatches: string[];
  /** Records after the snapshot, their payloads' bytes and the largest. */
  readonly records: number;
  readonly recordBytes: number;
  readonly largestRecord: number;
  /** The snapshot's body. */
  readonly snapshotBytes: number;
}

/** The device's storage (journal and mirror anchors in one directory, as on its SD card), kept between build and boot. */
let storage: MemoryDir | undefined;
/** The booted core and its mirror, kept while the heap is weighed. */
const booted: unknown[] = [];

function mirrorOver(dir: MemoryDir, core: () => SignerCore | undefined): JournalMirror {
  return new JournalMirror({
    key: MIRROR_KEY,
    dir,
    clock: OFFLINE_CLOCK,
    publish: () => Promise.resolve(),
    log: () => {},
    snapshotNeeded: () => core()?.snapshotSoon(),
    outboxBytes: DEVICE_MIRROR_OUTBOX_BYTES,
  });
}

/**
 * The journal a device has after answering the session, snapshotting, then answering its
 * hsmd_derive_secret requests again (new ids) until `records` records follow the snapshot.
 * The mirror (offline) writes its anchors as on the device; it asks for no snapshot here.
 */
export function buildBootJournal(run: DeviceReplay, records: number): BootJournal {
  const dir = new MemoryDir();
  const mirror = mirrorOver(dir, () => undefined);
  let counting = false;
  const sizes = { records: 0, recordBytes: 0, largestRecord: 0, snapshotBytes: 0 };
  const observer: JournalObserver = {
    recovered: (snapshot, payloads) => mirror.recovered(snapshot, payloads),
    durable: (payloads) => {
      for (const p of payloads) {
        if (!counting) continue;
        sizes.records++;
        sizes.recordBytes += p.length;
        sizes.largestRecord = Math.max(sizes.largestRecord, p.length);
      }
      mirror.durable(payloads);
    },
    snapshotting: (lastId, body) => {
      sizes.snapshotBytes = body.length;
      mirror.snapshotting(lastId, body);
    },
  };
  const { core } = SignerCore.open(openJournalFiles(dir), (state) => makeSigner(run, state), { observer, snapshotEvery: Number.MAX_SAFE_INTEGER });
  const mismatches: string[] = [];
  let id = 0n;
  for (const ex of run.exchanges) {
    const differs = mismatch(ex, core.handleBatch([envelopeOf(ex, ++id)])[0]!.reply);
    if (differs) mismatches.push(differs);
  }
  core.snapshot();
  counting = true;
  const derives = run.exchanges.filter((ex) => parseInt(ex.req.slice(0, 4), 16) === HSMD_DERIVE_SECRET);
  if (derives.length === 0) throw new Error('the session has no hsmd_derive_secret to repeat');
  for (let i = 0; i < records; i++) core.handleBatch([envelopeOf(derives[i % derives.length]!, ++id)]);
  storage = dir;
  return { mismatches, ...sizes };
}

/** The boot: SignerCore.open over the built journal, the mirror its observer; both kept. Returns the mirror's unacknowledged entries. */
export function boot(run: DeviceReplay): number {
  if (!storage) throw new Error('buildBootJournal first');
  let opened: SignerCore | undefined;
  const mirror = mirrorOver(storage, () => opened);
  const { core } = SignerCore.open(openJournalFiles(storage), (state) => makeSigner(run, state), { observer: mirror });
  opened = core;
  booted.push(core, mirror);
  return mirror.unacknowledged;
}

/** Drops the booted core and mirror (the heap's baseline for the next boot). */
export function releaseBoot(): void {
  booted.length = 0;
}

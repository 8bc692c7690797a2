/**
 * Restore from the broker's mirror (docs/journal.md "Restore"; `sphinx-signer --restore`): a
 * device whose storage died gets its journal back. On an empty journal directory it connects
 * under its own identity, asks for the mirror on `journal-fetch`, collects the `journal-dump`
 * chunks, checks them (log/mirror/verify.ts: the MAC chain, and freshness against the
 * broker's reply log and any mirror anchor the directory still holds) and writes the journal
 * the mirror describes: the snapshot, its anchor, then every record, synced. The device then
 * boots on it as on its own journal, and answers exactly as before.
 */
import { toHex } from '../../signer/bytes.js';
import type { Curve } from '../../signer/crypto/curve.js';
import { mirrorKey, nodePrivateKey } from '../../signer/keys/root-secrets.js';
import { makeCredentials } from '../../signer/remote/auth-token.js';
import { DEVICE_STATUS, topic } from '../../signer/remote/topics.js';
import { JournalCorruptError } from '../../log/journal/frame.js';
import { Journal, openJournalFiles } from '../../log/journal/journal.js';
import { encodeEntry, isSourced } from '../../log/journal/record.js';
import { equal } from '../../signer/bytes.js';
import type { MirrorEntry } from '../../log/mirror/entry.js';
import { decodeDump, encodeFetch } from '../../log/mirror/messages.js';
import { type CheckedMirror, checkMirror, MirrorBehindError, MirrorRefusedError } from '../../log/mirror/verify.js';
import { checkJournalAgainstMark } from '../../log/journal/high-water.js';
import type { FileDir, FilePort } from '../../log/file-port.js';
import { unlockSeed } from './device-boot.js';
import { anchorProves, openAnchorFiles, readAnchors, writeAnchor } from './mirror.js';
import { type Clock, DeviceSetupError, type StorageLock, type Store, type Transport } from './ports.js';
import { refuseIfRetired } from './retired.js';

/** The device's status says it is online: a restore beside it would push it off (docs/journal.md "Restore"). */
export class DeviceOnlineError extends DeviceSetupError {}

export interface RestoreOptions {
  readonly transport: Transport;
  readonly store: Store;
  readonly clock: Clock;
  readonly curve: Curve;
  readonly log: (level: 'info' | 'unusual' | 'broken', line: string) => void;
  /** Give up if the whole mirror has not arrived within this long. */
  readonly timeoutMs?: number;
  /**
   * The owner accepts a mirror that ends at exactly this request id although replies after it
   * were sent (`--accept-mirror-behind`; docs/broker-log.md "The operator's way out").
   */
  readonly acceptMirrorBehind?: bigint;
  /** How the owner started this restore (`sphinx-signer --restore`), for the way out a refusal names. */
  readonly command?: string;
  /** The storage lock, already taken (a spare's, standBy): used instead of taking it again. */
  readonly lock?: StorageLock;
}

export interface Restored {
  readonly entries: number;
  readonly records: number;
  readonly lastId: bigint;
  /** The storage lock, still held: the caller boots on it (no other process can slip in between) and releases it. */
  readonly lock: StorageLock;
}

/**
 * Restores; throws MirrorRefusedError (forged, gap, reordered, rollback, malformed) or
 * DeviceSetupError; DeviceRetiredError, before connecting, if the storage holds the retired
 * marker (retired.ts): restored, it would sign beside the device that replaced it. The
 * freshness bound is the larger of what the broker's reply log shows answered and the
 * device's own high-water mark (which outlives the journal where it is kept apart: NVS).
 */
export async function restoreFromMirror(options: RestoreOptions): Promise<Restored> {
  const { store, curve, log } = options;
  refuseIfRetired(store, log);
  const lock = options.lock ?? store.lock();
  try {
    const secretData = unlockSeed(store.hsmSecret(), store.passphrase());
    const nodeKey = nodePrivateKey(curve, secretData);
    const deviceId = toHex(curve.publicKey(nodeKey));
    const dir = store.journalDir();
    const journal = emptyJournal(dir, '--restore');
    const anchorFiles = openAnchorFiles(dir);
    const proven = readAnchors(anchorFiles).reduce<ReturnType<typeof anchorProves> | undefined>((best, a) => {
      const p = a && anchorProves(a);
      return p && (!best || p.counter > best.counter) ? p : best;
    }, undefined);
    const mark = store.highWaterMark(deviceId);
    const marked = mark.read();
    const highWater = marked === undefined ? undefined : { id: marked, where: mark.where };
    const acceptBehind = options.acceptMirrorBehind;
    let fetched;
    try {
      fetched = await fetchCurrentMirror(options, deviceId, nodeKey, (d) =>
        checkMirror(mirrorKey(secretData), d.entries, { repliedUpTo: d.repliedUpTo, highWater, proven, acceptBehind }),
      );
    } catch (e) {
      if (e instanceof MirrorBehindError) throw behindWayOut(e, deviceId, options);
      throw e;
    }
    const { dump, mirror } = fetched;
    if (dump.entries.length === 0) {
      throw new DeviceSetupError(`the broker holds no mirror for device ${deviceId}: nothing to restore from. Check that --mqtt and the broker id are those of ` +
        'the broker this device used (each broker keeps its devices\' mirrors in its SPHINX_DATA_DIR/mirror); else put the old journal back (its card, a backup) ' +
        'and start without --restore, or, for a device that never signed through this broker, start it without --restore on a new journal');
    }
    rebuildJournal(journal, anchorFiles, mirror);
    const answered = dump.repliedUpTo > (marked ?? 0n) ? dump.repliedUpTo : (marked ?? 0n);
    if (mirror.lastId < answered) {
      log('broken', `restore: the mirror ends at request id ${mirror.lastId}, behind id ${answered} answered: ACCEPTED by the owner (--accept-mirror-behind ${mirror.lastId}); ` +
        `requests answered after id ${mirror.lastId} are lost to this device and may be signed again`);
      // The owner's acceptance covers the device's own mark too: it comes down to the mirror, loudly.
      checkJournalAgainstMark(mark, mirror.lastId, { acceptRollback: true, log: (line) => log('broken', line) });
    }
    log('info', `restore: journal rebuilt up to request id ${mirror.lastId} (${mirror.snapshot ? `snapshot of id ${mirror.snapshot.lastId} and ` : ''}${mirror.records.length} records), mirror entry ${mirror.end.counter}`);
    return { entries: dump.entries.length, records: mirror.records.length, lastId: mirror.lastId, lock };
  } catch (e) {
    lock.release();
    throw e;
  }
}

/**
 * A mirror behind what was answered, refused with the owner's way out
 * (docs/broker-log.md "The operator's way out"): the flag that accepts exactly this mirror, and the broker's setting
 * that accepts the restored device's hello, which is then below what the broker answered.
 */
function behindWayOut(e: MirrorBehindError, deviceId: string, options: RestoreOptions): MirrorRefusedError {
  const id = e.mirrorLastId;
  const named = options.acceptMirrorBehind;
  const other = named === undefined ? '' : ` (--accept-mirror-behind ${named} names another mirror: this one ends at id ${id})`;
  return new MirrorRefusedError('rollback', `${e.message.replace(/^mirror refused \(rollback\): /, '')}${other}. ` +
    `Get the old journal back if you can (its card, a backup) and start on it without --restore. To restore from this mirror anyway, knowing that ` +
    `the requests answered after id ${id} (up to id ${e.answeredUpTo}) are lost to the device and may be signed again (a revoked commitment among them), ` +
    `run ${options.command ?? 'sphinx-signer --restore'} --accept-mirror-behind ${id}, and start the broker with ` +
    `SPHINX_ACCEPT_DEVICE_ROLLBACK=${deviceId}:${id} (its hello is below what the broker answered; docs/broker-log.md "The operator's way out")`);
}

/**
 * The journal in `dir`, which must hold nothing yet (a dead card's replacement, a spare):
 * a readable journal is never overwritten, a corrupt one is left for the owner to move aside.
 */
export function emptyJournal(dir: FileDir, flag: string): Journal {
  try {
    const { journal, recovery } = Journal.open(openJournalFiles(dir));
    if (recovery.snapshot || recovery.entries.length > 0) {
      throw new DeviceSetupError(`${flag} needs a data directory without a journal, and this one is readable (last id ${journal.lastId ?? 'none'}): start the device without ${flag}`);
    }
    return journal;
  } catch (e) {
    if (!(e instanceof JournalCorruptError)) throw e;
    throw new DeviceSetupError(`the journal cannot be read (${e.message}): move the files journal, snapshot-a and snapshot-b aside (keep hsm_secret, mirror-a/-b and high-water-a/-b: they prove how far the mirror must reach) and run ${flag} again`);
  }
}

/**
 * Writes the journal a checked mirror describes into an empty `journal`: the snapshot's anchor
 * (before the snapshot, as the device does), the snapshot, then every record after it; synced.
 */
export function rebuildJournal(journal: Journal, anchorFiles: readonly [FilePort, FilePort], mirror: CheckedMirror): void {
  if (mirror.snapshot) {
    const s = mirror.snapshot;
    writeAnchor(anchorFiles[0], { snapshotLastId: s.lastId, counter: s.position.counter, prevMac: s.prevMac });
    journal.install(s.lastId, s.body);
  }
  for (const { entry, payload } of mirror.records) {
    if (!equal(encodeEntry(entry), payload)) throw new MirrorRefusedError('malformed', 'a mirrored journal record is not in this build\'s canonical encoding');
    if (isSourced(entry)) journal.appendSourced(entry);
    else journal.append(entry);
  }
  journal.sync();
}

/**
 * Fetches and checks the mirror; one that ends before what the broker's reply log (or the
 * device's own anchor) shows journaled is asked for again, CATCH_UP_ATTEMPTS times
 * CATCH_UP_WAIT_MS apart, before it is refused: a device that died right after a reply may
 * have published its last journal messages, still on their way into the broker's store (it
 * writes them in batches). A mirror still behind after that is refused (rollback).
 */
async function fetchCurrentMirror(
  options: RestoreOptions,
  deviceId: string,
  nodeKey: Uint8Array,
  check: (dump: { entries: MirrorEntry[]; repliedUpTo: bigint }) => CheckedMirror,
): Promise<{ dump: { entries: MirrorEntry[]; repliedUpTo: bigint }; mirror: CheckedMirror }> {
  for (let attempt = 1; ; attempt++) {
    const dump = await fetchMirror(options, deviceId, nodeKey);
    options.log('info', `restore: ${dump.entries.length} mirror entries received; the broker's reply log shows request ${dump.repliedUpTo} answered`);
    try {
      return { dump, mirror: check(dump) };
    } catch (e) {
      if (!(e instanceof MirrorRefusedError) || e.problem !== 'rollback' || attempt >= CATCH_UP_ATTEMPTS) throw e;
      options.log('unusual', `restore: ${e.message}; asking again in ${CATCH_UP_WAIT_MS / 1000} s (attempt ${attempt + 1} of ${CATCH_UP_ATTEMPTS}: the last records may still be on their way)`);
      await new Promise<void>((resolve) => options.clock.after(CATCH_UP_WAIT_MS, resolve));
    }
  }
}

const CATCH_UP_ATTEMPTS = 5;
const CATCH_UP_WAIT_MS = 1000;

/** Between attempts to reach the broker (it may still be starting). */
const RETRY_MS = 1000;
/** Between fetches while no answer has come. */
const FETCH_AGAIN_MS = 3000;
/**
 * How long a restore waits for a device whose status says `online` to go offline (a device
 * just killed: its will follows its closed connection within moments) before refusing.
 */
const ONLINE_GRACE_MS = 5000;

/** Connects (retrying until the timeout), asks for the mirror and collects every chunk up to the final one. */
async function fetchMirror(options: RestoreOptions, deviceId: string, nodeKey: Uint8Array): Promise<{ entries: MirrorEntry[]; repliedUpTo: bigint }> {
  const { transport, clock, curve, store } = options;
  const config = store.config();
  let entries: MirrorEntry[] = [];
  try {
    return await new Promise((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? 60_000;
      let done = false;
      let lastReason = 'no answer';
      const timer = clock.after(timeoutMs, () => fail(new DeviceSetupError(`restore: the mirror did not arrive within ${timeoutMs / 1000} s from ${config.mqttUrl} (${lastReason})`)));
      const fail = (e: Error): void => {
        if (done) return;
        done = true;
        clock.cancel(timer);
        reject(e);
      };
      let chunks = 0;
      const statusTopic = topic(deviceId, 'status');
      /** The device's retained status: a restore beside a running device would push it off and retire it. */
      let online = false;
      let complete: { entries: MirrorEntry[]; repliedUpTo: bigint } | undefined;
      let graceTimer: ReturnType<Clock['after']> | undefined;
      const finish = (): void => {
        if (done || !complete) return;
        if (online) {
          graceTimer ??= clock.after(ONLINE_GRACE_MS, () => fail(new DeviceOnlineError(
            `restore: device ${deviceId} is online (its status on the broker says so): --restore is for a device whose storage died, and ` +
            'booted beside the running one it would push it off its session and the broker would retire it. Stop the running device first ' +
            '(SIGTERM: it says offline), or start this one with --spare to take over when it goes offline (docs/journal.md "Restore"). ' +
            'A device that lost power without closing its connection shows offline once the broker misses its keepalives: run --restore again then')));
          return;
        }
        done = true;
        clock.cancel(timer);
        if (graceTimer) clock.cancel(graceTimer);
        resolve(complete);
      };
      const attempt = (): void => {
        entries = [];
        chunks = 0;
        const { username, password } = makeCredentials(curve, nodeKey, config.brokerId, clock.now(), 0n);
        transport.connect(
          // Its own client id: the device's persistent session (its queued requests) is left alone.
          // No will: its "offline" would be taken for the device's own (a spare may be live).
          { url: config.mqttUrl, clientId: `${deviceId}-restore`, username, password },
          {
            connected: () => {
              // Asked again while nothing has come: a broker still starting may not yet listen.
              const ask = (): void => {
                if (done || chunks > 0) return;
                transport.publish(topic(deviceId, 'journal-fetch'), encodeFetch()).catch(() => undefined);
                clock.after(FETCH_AGAIN_MS, ask);
              };
              transport.subscribe([topic(deviceId, 'journal-dump'), statusTopic]).then(ask, fail);
            },
            message: (name, payload) => {
              if (name === statusTopic) {
                online = new TextDecoder().decode(payload) === DEVICE_STATUS.online;
                return finish();
              }
              if (name !== topic(deviceId, 'journal-dump')) return;
              try {
                const dump = decodeDump(payload);
                chunks++;
                entries.push(...dump.entries);
                if (!dump.final || done) return;
                complete = { entries, repliedUpTo: dump.repliedUpTo };
                finish();
              } catch (e) {
                fail(new MirrorRefusedError('malformed', `a mirror chunk does not decode: ${(e as Error).message}`));
              }
            },
            disconnected: (reason) => {
              if (done) return;
              lastReason = reason;
              options.log('unusual', `restore: cannot reach the broker at ${config.mqttUrl} (${reason}); retrying in ${RETRY_MS / 1000} s`);
              clock.after(RETRY_MS, attempt);
            },
          },
        );
      };
      attempt();
    });
  } finally {
    await transport.end().catch(() => undefined);
  }
}

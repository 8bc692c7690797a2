/**
 * The broker log's directory as the broker finds it at start (docs/broker-log.md): damage
 * refused by name, and a log that was created once noticed when it is gone. Node-side.
 *
 * `SPHINX_DATA_DIR/broker-log-created` is written (synced) once the log exists: a data
 * directory with that marker and no log lost its log (deleted, or a disk not mounted); a
 * fresh one would restart request ids and forget which ids the devices answered, so the
 * broker refuses to start until the operator restores it or accepts a new one explicitly.
 */
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** The marker written once the broker log exists. */
export const BROKER_LOG_MARKER = 'broker-log-created';
/** The operator's way out of a missing or damaged log: start a new one (docs/broker-log.md). */
export const ACCEPT_NEW_LOG = 'SPHINX_ACCEPT_NEW_BROKER_LOG';

/**
 * The broker log in `dir` cannot be read as written: a record's checksum fails, a record is
 * missing from the sequence, or LevelDB refuses a damaged file. Nothing was changed.
 */
export class BrokerLogDamagedError extends Error {
  override readonly name = 'BrokerLogDamagedError';
  constructor(
    readonly dir: string,
    /** Where: "at seq 41", "after seq 40 (write-ahead log 000003.log, byte 4973)", "while opening". */
    readonly where: string,
    readonly detail: string,
    cause?: unknown,
  ) {
    super(`${damage(dir, where, detail)}. Nothing in it was changed. ` +
      `\`sphinx-audit verify --log ${dir}\` reads it without writing and names the damage; restore the directory from a backup, ` +
      `or move it aside (mv ${dir} ${dir}.damaged) and start once with ${ACCEPT_NEW_LOG}=1 for a new log (docs/broker-log.md "Integrity")`,
      cause === undefined ? undefined : { cause });
  }
}

/** What is damaged where, in words (the audit names it with its own advice). */
export const damage = (dir: string, where: string, detail: string): string => `the broker log ${dir} is damaged ${where}: ${detail}`;

/** The broker ran here before (its marker) but its log is gone; or the log directory lost its CURRENT file. */
export class BrokerLogMissingError extends Error {
  override readonly name = 'BrokerLogMissingError';
}

const hasLog = (dir: string): boolean => existsSync(join(dir, 'CURRENT'));

/**
 * Before opening the log `dir` of the broker whose data directory is `dataDir`: refuses a
 * log that existed and is gone, unless `acceptNew` (then the old marker goes, and the new
 * log gets its own). Returns a line for the broker's log when the operator's setting was
 * used or is no longer needed.
 */
export function checkBrokerLogPresent(dataDir: string, dir: string, acceptNew: boolean): string | undefined {
  if (hasLog(dir)) return acceptNew ? `${ACCEPT_NEW_LOG}=1 is set but the broker log ${dir} is there: the setting does nothing; remove it` : undefined;
  const marker = join(dataDir, BROKER_LOG_MARKER);
  const created = existsSync(marker) ? readFileSync(marker, 'utf8').trim() : undefined;
  // LevelDB makes a new log where CURRENT is missing and deletes the tables it does not list.
  const leftovers = existsSync(dir) ? readdirSync(dir).filter((f) => f !== 'LOCK' && f !== 'LOG' && f !== 'LOG.old') : [];
  if (created === undefined && leftovers.length === 0) return undefined;
  const what = leftovers.length
    ? `the broker log ${dir} has no CURRENT file but holds ${leftovers.slice(0, 5).join(', ')}${leftovers.length > 5 ? ', …' : ''}`
    : `the broker log ${dir} is missing, but ${marker} says it was created (${created})`;
  if (!acceptNew) {
    throw new BrokerLogMissingError(`${what}: a new log would restart request ids and forget which ids the devices answered. ` +
      `Put the log back (restore ${dir} from a backup, or mount the disk it is on); or, knowing its records are lost, ` +
      `${leftovers.length ? `move ${dir} aside and ` : ''}start once with ${ACCEPT_NEW_LOG}=1 (docs/broker-log.md "A missing log")`);
  }
  if (leftovers.length) throw new BrokerLogMissingError(`${what}: move ${dir} aside first (LevelDB would delete those files), then start with ${ACCEPT_NEW_LOG}=1`);
  unlinkSync(marker);
  return `${what}: starting a new one because ${ACCEPT_NEW_LOG}=1 (the operator's decision; remove the setting once the broker runs)`;
}

/** Writes the marker (synced) if it is not there yet: from now on a missing log is noticed. */
export const markBrokerLogCreated = (dataDir: string, now: Date): void => writeMarkerOnce(dataDir, BROKER_LOG_MARKER, now);

/** Writes `dataDir/name` holding the time (synced, the directory entry too) unless it is there. */
export function writeMarkerOnce(dataDir: string, name: string, now: Date): void {
  const marker = join(dataDir, name);
  if (existsSync(marker)) return;
  const fd = openSync(marker, 'w', 0o600);
  try {
    writeSync(fd, `${now.toISOString()}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const d = openSync(dataDir, 'r');
  try {
    fsyncSync(d);
  } finally {
    closeSync(d);
  }
}

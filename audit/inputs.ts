/**
 * What `sphinx-audit` reads, opened read-only with errors that say the fix:
 * - the broker log: `SPHINX_DATA_DIR/broker-log` (log/broker-log/broker-log.ts brokerLogDir),
 *   a LevelDB the broker must not hold open at the same time. LevelDB rewrites a database it
 *   opens (its write-ahead log becomes a table, a new MANIFEST), so the audit opens a copy in
 *   a private temporary directory, and the log's own files stay as they were; damage is
 *   collected and reported under the original path (docs/broker-log.md "Audit");
 * - a device journal: a directory (its `journal`, `snapshot-a`, `snapshot-b`) or the journal
 *   file itself (its slots are looked for next to it). The bytes are copied into memory
 *   files, so recovery (which cuts torn tails and finishes compactions) never writes to the
 *   device's files: an audit changes nothing it audits;
 * - the device's policy file (policy.json), the policy verify's replay starts from.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { BrokerLog, brokerLogDir } from '../log/broker-log/broker-log.js';
import { BrokerLogDamagedError } from '../log/broker-log/log-dir.js';
import { describeHolder, liveHolder } from '../node/dir-lock.js';
import type { JournalFiles } from '../log/journal/journal.js';
import { JOURNAL_FILE, SNAPSHOT_FILES } from '../log/journal/journal.js';
import { MemoryFile } from '../log/memory-file.js';
import { policyFromJson, PolicyJsonError } from '../signer/policy/policy-codec.js';
import { DEFAULT_POLICY, type PolicyConfig } from '../signer/policy/policy.js';

/** An input that cannot be read; the message says what to pass instead. Exit code 2. */
export class AuditInputError extends Error {
  override readonly name = 'AuditInputError';
}

/** A copy of the LevelDB directory `dir` in a new private (0700) temporary directory. */
export function privateCopy(dir: string): { path: string; remove: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'sphinx-audit-'));
  const path = join(root, basename(dir));
  try {
    cpSync(dir, path, { recursive: true, filter: (src) => basename(src) !== 'LOCK' });
  } catch (e) {
    rmSync(root, { recursive: true, force: true });
    throw new AuditInputError(`cannot copy ${dir} to read it: ${(e as Error).message}`);
  }
  return { path, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** Damage found in the copy, named by the original directory. */
export const inOriginal = (e: BrokerLogDamagedError, path: string): BrokerLogDamagedError =>
  e.dir === path ? e : new BrokerLogDamagedError(path, e.where, e.detail);

/** An opened copy of a broker log: read it, then `close()` (which removes the copy). */
export interface OpenedLog {
  readonly log: BrokerLog;
  /** The original directory. */
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Opens a copy of the broker log of the broker whose SPHINX_DATA_DIR is `dataDir` (or of
 * the LevelDB directory itself). Damage (a hole, a record whose checksum fails) goes to
 * `onDamage`, named in the original directory, and the reads go on past it.
 */
export async function openBrokerLog(dataDir: string, onDamage: (e: BrokerLogDamagedError) => void): Promise<OpenedLog> {
  if (!existsSync(dataDir)) throw new AuditInputError(`no such directory ${dataDir}: pass the broker's SPHINX_DATA_DIR with --log`);
  const nested = brokerLogDir(dataDir);
  const path = existsSync(join(nested, 'CURRENT')) ? nested : existsSync(join(dataDir, 'CURRENT')) ? dataDir : undefined;
  if (path === undefined) {
    throw new AuditInputError(`no broker log at ${nested}: pass the broker's SPHINX_DATA_DIR with --log ` +
      '(the log exists only with SPHINX_SIGNER=remote; the in-process signer keeps just the device journal, see --journal)');
  }
  // A running broker is still writing: a copy taken now may be cut in the middle of a write.
  const holder = liveHolder(dirname(path)) ?? liveHolder(path);
  if (holder) {
    throw new AuditInputError(`the broker log ${path} is in use by ${describeHolder(holder)}: stop it, or audit a copy ` +
      `(cp -r ${path} /tmp/broker-log-copy && sphinx-audit ... --log /tmp/broker-log-copy)`);
  }
  const copy = privateCopy(path);
  try {
    const log = await BrokerLog.open(copy.path, { onDamage: (e) => onDamage(inOriginal(e, path)) });
    return { log, path, close: () => log.close().finally(copy.remove) };
  } catch (e) {
    copy.remove();
    if (e instanceof BrokerLogDamagedError) throw inOriginal(e, path);
    const why = String((e as Error & { cause?: Error }).cause?.message ?? (e as Error).message);
    throw new AuditInputError(`cannot open the broker log at ${path}: ${why}`);
  }
}

/** A journal's files, copied into memory, and where they came from. */
export interface JournalCopy {
  readonly path: string;
  readonly files: JournalFiles;
  /** The journal file's bytes. */
  readonly bytes: Uint8Array;
}

function copyOf(path: string): MemoryFile {
  const file = new MemoryFile(path);
  if (existsSync(path)) file.append(new Uint8Array(readFileSync(path)));
  return file;
}

/** Reads a journal directory (or journal file) into memory files. */
export function readJournal(path: string): JournalCopy {
  if (!existsSync(path)) {
    throw new AuditInputError(`no such journal ${path}: pass the device's data directory (with its ${JOURNAL_FILE} file) ` +
      "or the journal file itself with --journal (the in-process signer's is SPHINX_DATA_DIR)");
  }
  const dir = statSync(path).isDirectory() ? path : dirname(path);
  const journalPath = dir === path ? join(dir, JOURNAL_FILE) : path;
  if (!existsSync(journalPath)) {
    throw new AuditInputError(`no journal file in ${path} (expected ${journalPath}): pass the device's data directory or its ${JOURNAL_FILE} file with --journal`);
  }
  const journal = copyOf(journalPath);
  const files: JournalFiles = { journal, slots: [copyOf(join(dir, SNAPSHOT_FILES[0])), copyOf(join(dir, SNAPSHOT_FILES[1]))] };
  return { path: journalPath, files, bytes: journal.read(0, journal.size()) };
}

/** Reads an hsm_secret file (the raw 32 bytes, or CLN's encrypted/mnemonic forms the signer unlocks). */
/**
 * The policy the device started from, in its policy-file format (policy.json,
 * docs/policies.md "The device's policy"): its settings over the device's defaults.
 */
export function readPolicyFile(path: string): PolicyConfig {
  if (!existsSync(path)) throw new AuditInputError(`no such policy file ${path}: pass the device's policy.json (the policy it started from) with --policy, or leave it out for the defaults`);
  try {
    return policyFromJson(JSON.parse(readFileSync(path, 'utf8')), DEFAULT_POLICY, undefined);
  } catch (e) {
    if (!(e instanceof SyntaxError || e instanceof PolicyJsonError)) throw e;
    throw new AuditInputError(`policy file ${path}: ${e.message}; fix it (docs/policies.md lists the settings)`);
  }
}

export function readSecretFile(path: string): Uint8Array {
  if (!existsSync(path)) throw new AuditInputError(`no such hsm_secret ${path}: pass the node's hsm_secret file with --hsm-secret, or leave it out to check signatures only`);
  return new Uint8Array(readFileSync(path));
}

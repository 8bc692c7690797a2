/**
 * The in-process signer (`SPHINX_SIGNER=local`): the signer core running inside the
 * broker, with hsm_secret read from (or created in) the working directory as CLN's hsmd
 * does (hsmd.c maybe_create_new_hsm / load_hsm). It runs the device's write-ahead core
 * (core/signer-core.ts) journaling under `dataDir` (SPHINX_DATA_DIR), with its high-water
 * mark there too (log/journal/high-water.ts), so a restarted hsmd resumes its channels'
 * state and refuses one that went back. Request ids continue after the last one journaled.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { nobleCurve } from '../signer/crypto/noble.js';
import type { Decision, Reply } from '../signer/decision.js';
import { createMnemonicHsmSecret, HsmSecretError, HsmSecretErrorCode } from '../signer/keys/hsm-secret.js';
import type { PolicyConfig } from '../signer/policy/policy.js';
import { Signer } from '../signer/signer.js';
import type { SignerState } from '../signer/state.js';
import { SignerCore } from '../core/signer-core.js';
import { FlushSoon } from '../core/flush-soon.js';
import { JournalRollbackError, slotMark } from '../log/journal/high-water.js';
import { corruptJournalAdvice, rollbackAdvice } from '../node/journal-advice.js';
import { NodeDir, type NodeFile, syncDir } from '../node/node-file.js';
import type { FileDir } from '../log/file-port.js';
import { JournalCorruptError } from '../log/journal/frame.js';
import { openJournalFiles } from '../log/journal/journal.js';
import { fastCurve } from '../node/curve-native.js';
import { type WarmUpCoreOpener, warmStartThrough } from '../node/warm-up.js';
import { RequestIds } from './request-ids.js';
import { servingPass } from './warm-serving.js';
import type { SignerPort } from './signer-port.js';

export interface LocalSignerOptions {
  /** Where the signer keeps its state (SPHINX_DATA_DIR). */
  readonly dataDir: string;
  readonly hsmSecretPath: string;
  readonly developer: boolean;
  /** Validation policy (broker/config.ts); DEFAULT_POLICY if absent. */
  readonly policy?: PolicyConfig;
  /** SPHINX_ACCEPT_JOURNAL_ROLLBACK=1: sign from a journal below its high-water mark. */
  readonly acceptRollback?: boolean;
  readonly log: (level: 'debug' | 'info' | 'unusual' | 'broken', text: string) => void;
}

export async function createLocalSigner(options: LocalSignerOptions): Promise<SignerPort> {
  // libsecp256k1 where it loads (same bytes, ~15x faster: npm run bench), else pure JS.
  const curve = fastCurve();
  options.log('info', `signer curve backend: ${curve === nobleCurve ? '@noble/curves (pure JS)' : 'libsecp256k1 (native)'}`);
  const makeSigner = (state: SignerState) =>
    new Signer({
      curve,
      developer: options.developer,
      policy: options.policy,
      readHsmSecret: (passphrase) => readOrCreateHsmSecret(options, passphrase),
    }, state);
  // The warm start's throwaway cores are opened by this too (inTemporaryDirs): the same classes
  // and shapes, so the code V8 optimizes during the warm start is the code that serves.
  const openCore = (files: FileDir, dataDir: string, signerOf: (state: SignerState) => Signer, log: (line: string) => void): SignerCore =>
    SignerCore.open(openJournalFiles(files), signerOf, {
      log,
      mark: slotMark(files, join(dataDir, 'high-water-{a,b}')),
      acceptRollback: options.acceptRollback ?? false,
      syncReadOnly: false,
      markAtFlush: true,
    }).core;
  let core: SignerCore;
  try {
    core = openCore(new NodeDir(options.dataDir), options.dataDir, makeSigner, (line) => options.log('unusual', line));
  } catch (e) {
    if (!(e instanceof JournalCorruptError || e instanceof JournalRollbackError)) throw e;
    // Refuse to sign (status_fail at the first request), saying what is wrong and the way out.
    const description = e instanceof JournalCorruptError
      ? corruptJournalAdvice(e, options.dataDir)
      : rollbackAdvice(e, 'SPHINX_ACCEPT_JOURNAL_ROLLBACK=1');
    options.log('broken', description);
    return {
      request: async () => ({ kind: 'fatal', failure: 'internal', description }),
      close: async () => {},
    };
  }
  const ids = new RequestIds(core.lastId ?? 0n);
  options.log('info', `signer journal in ${options.dataDir}: resuming after id ${core.lastId ?? 0n}`);
  // Through the hsmd's own serving code, into a throwaway core: broker/warm-serving.ts.
  const warmPort = (passCore: SignerCore) => groupCommitting(passCore, new RequestIds(0n), () => {});
  const warmCores = inTemporaryDirs((files, dataDir, signerOf) => openCore(files, dataDir, signerOf, () => {}));
  try {
    await warmStartThrough({ curve, developer: options.developer, policy: options.policy }, (line) => options.log('debug', line), servingPass(warmPort), warmCores.open);
  } finally {
    warmCores.remove((e) => options.log('unusual', `warm start: could not remove its temporary files: ${e.message}`));
  }
  return groupCommitting(core, ids, options.log);
}

/**
 * Opens each of the warm start's throwaway cores with `openCore` in a new temporary directory,
 * its files real ones as the journal's are, with syncs that do nothing; `remove` closes them
 * and removes the directories, telling `failed` what it could not (which costs a few KiB in
 * the system's temporary directory).
 */
function inTemporaryDirs(openCore: (files: FileDir, dataDir: string, signerOf: (state: SignerState) => Signer) => SignerCore): { open: WarmUpCoreOpener; remove(failed: (e: Error) => void): void } {
  const dirs: string[] = [];
  const opened: NodeFile[] = [];
  return {
    open(signerOf) {
      const path = mkdtempSync(join(tmpdir(), 'sphinx-warm-start-'));
      dirs.push(path);
      // The same classes as the real journal's, but nothing of a test seed's is worth an fsync.
      const dir = new NodeDir(path, 'none');
      const files: FileDir = {
        open: (name, openOptions) => {
          const file = dir.open(name, openOptions);
          opened.push(file);
          return file;
        },
      };
      return openCore(files, path, signerOf);
    },
    remove(failed) {
      const attempt = (step: () => void) => {
        try {
          step();
        } catch (e) {
          failed(e as Error);
        }
      };
      for (const file of opened.splice(0)) attempt(() => file.close());
      for (const path of dirs.splice(0)) attempt(() => rmSync(path, { recursive: true, force: true }));
    },
  };
}

/** How long a read-only reply's record may wait for a sync, and the high-water mark for its raise (docs/journal.md "Read-only replies"). */
export const READ_ONLY_FLUSH_MS = 20;

/**
 * The in-process port over the core: the requests that arrive in one event-loop turn (from
 * any connection) are handled as one batch with at most one sync, as the device handles a
 * `req` message; a batch of read-only requests is not synced at all, its records follow with
 * the next sync or after `flushMs` (READ_ONLY_FLUSH_MS).
 */
export function groupCommitting(core: SignerCore, ids: RequestIds, log: LocalSignerOptions['log'], flushMs = READ_ONLY_FLUSH_MS): SignerPort {
  type Waiting = { readonly request: Parameters<SignerPort['request']>[0]; readonly id: bigint; resolve(reply: Reply): void; reject(e: unknown): void };
  let waiting: Waiting[] = [];
  const flushFailed = (e: unknown): void =>
    log('broken', `signer journal: syncing read-only records or raising the high-water mark failed: ${(e as Error).message}`);
  // The timer's flush syncs off the event loop, so the requests that come meanwhile are not held up.
  const flushSoon = new FlushSoon(core, { after: (ms, fn) => setTimeout(fn, ms), cancel: clearTimeout }, flushMs, flushFailed);
  const handleWaiting = (): void => {
    const turn = waiting;
    waiting = [];
    let decisions: Decision[];
    try {
      const batch = core.begin();
      decisions = turn.map((w) => batch.handle({ ...w.request, id: w.id }));
      batch.commit();
    } catch (e) {
      // A journal that failed to write or sync: nothing more is signed from this process.
      const stopped = core.stoppedBy;
      if (stopped) for (const w of turn) w.resolve({ kind: 'fatal', failure: 'internal', description: journalFailedAdvice(stopped) });
      else for (const w of turn) w.reject(e);
      return;
    }
    turn.forEach((w, i) => {
      logPolicyWarnings(decisions[i]!, log);
      w.resolve(decisions[i]!.reply);
    });
    flushSoon.arm();
  };
  return {
    request: (request) =>
      new Promise<Reply>((resolve, reject) => {
        waiting.push({ request, id: ids.take(), resolve, reject });
        if (waiting.length === 1) setImmediate(handleWaiting);
      }),
    close: async () => {
      flushSoon.cancel();
      try {
        core.flush();
      } catch (e) {
        flushFailed(e);
      }
    },
  };
}

/** What lightningd's log says when the journal could not be written or synced. */
const journalFailedAdvice = (e: Error): string =>
  `signer journal: a write or sync failed (${e.message}), so what was decided may not be on the disk: ` +
  'this hsmd signs nothing more. Free space on the disk or replace it, then restart lightningd: ' +
  'the journal is recovered as far as the disk kept it, and every reply it holds is given again (docs/journal.md "Write-ahead")';

/** Rules demoted to warnings still deserve a loud line in lightningd's log. */
export function logPolicyWarnings(decision: Decision, log: LocalSignerOptions['log']): void {
  for (const event of decision.events)
    if (event.kind === 'PolicyWarned') log('unusual', `${event.policy} (warn-only, signed anyway): ${event.detail}`);
}

/**
 * hsm_secret's bytes; a missing file is created first as CLN v25.12 does: a 12-word
 * mnemonic from 16 random bytes, mode 0400, synced with its directory.
 */
function readOrCreateHsmSecret(options: LocalSignerOptions, passphrase: string | undefined): Uint8Array {
  const path = options.hsmSecretPath;
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o400);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readHsmSecretFile(path);
    throw e;
  }
  try {
    writeSync(fd, createMnemonicHsmSecret(new Uint8Array(randomBytes(16)), passphrase));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  syncDir(dirname(path));
  options.log('unusual', 'HSM: created new hsm_secret file');
  return readHsmSecretFile(path);
}

/** The file's bytes; an unreadable file is an init failure (hsmd.c load_hsm), not a crash. */
function readHsmSecretFile(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new HsmSecretError(HsmSecretErrorCode.INVALID_FORMAT, `Could not read ${path}: ${(e as Error).message}`);
  }
}

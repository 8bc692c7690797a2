/**
 * Warm start: before a Node process serves its first request, it runs the requests of a
 * recorded CLN session (node/warm-up-session.json: node l2's, made by scripts/make-warm-up.mjs)
 * through a throwaway signer core, so the JIT has compiled the hot paths (decoding, policies,
 * transaction building, sighash, the journal's encoding) before lightningd waits on them.
 * Without it the first session after a start runs about twice as slow as later ones
 * (docs/performance-history-local.md).
 *
 * Nothing real is touched: the throwaway Signer gets the recording's own hsm_secret, its
 * journal is a file that keeps nothing, and its state is dropped afterwards. The host's curve
 * and options are used, so the paths warmed are the ones that will run.
 */
import { readFileSync } from 'node:fs';
import { SignerCore } from '../core/signer-core.js';
import type { FileDir, FilePort } from '../log/file-port.js';
import { openJournalFiles } from '../log/journal/journal.js';
import { fromHex } from '../signer/bytes.js';
import type { ClientContext, Envelope } from '../signer/envelope.js';
import { MASTER_PERMISSIONS } from '../signer/permissions.js';
import { Signer, type SignerOptions } from '../signer/signer.js';

interface WarmUpSession {
  readonly hsm_secret: string;
  readonly requests: readonly { readonly peer?: string; readonly dbid?: number; readonly perms?: number; readonly req: string }[];
}

/** Passes over the session: the second is where most hot functions reach the optimizing compiler. */
export const WARM_UP_PASSES = 2;

const MASTER: ClientContext = { peer: new Uint8Array(33), dbid: 0n, permissions: MASTER_PERMISSIONS };

let warmed = false;

/**
 * Warms this process once (later calls do nothing: the JIT's work is per process): runs the
 * recorded session WARM_UP_PASSES times, each through a fresh Signer (the host's curve, policy
 * and developer flag; the recording's secret) in a SignerCore journaling to nowhere. Tells
 * `log` what it did, or why it could not (which costs only speed).
 */
export function warmStart(options: Omit<SignerOptions, 'readHsmSecret'>, log: (line: string) => void): void {
  if (warmed) return;
  warmed = true;
  const started = performance.now();
  try {
    const requests = runSession(options);
    // Said for an operator who never read this file: nothing of theirs was signed or kept.
    log(`warm start: ran ${requests} recorded requests with a test seed (not this node's; nothing kept) in ${Math.round(performance.now() - started)} ms, so the first real ones are fast`);
  } catch (e) {
    log(`warm start skipped: ${(e as Error).message}`);
  }
}

const readSession = (): WarmUpSession => JSON.parse(readFileSync(new URL('../../node/warm-up-session.json', import.meta.url), 'utf8')) as WarmUpSession;

/** The recorded session's requests, as lightningd sent them (ids from 1). */
export function recordedEnvelopes(): Envelope[] {
  return readSession().requests.map((r, i) => ({
    id: BigInt(i + 1),
    client: r.peer === undefined ? MASTER : { peer: fromHex(r.peer), dbid: BigInt(r.dbid!), permissions: BigInt(r.perms!) },
    at: 0,
    message: fromHex(r.req),
  }));
}

/** The requests handled. */
function runSession(options: Omit<SignerOptions, 'readHsmSecret'>): number {
  const secret = fromHex(readSession().hsm_secret);
  const envelopes = recordedEnvelopes();
  for (let pass = 0; pass < WARM_UP_PASSES; pass++) {
    const { core } = SignerCore.open(openJournalFiles(nowhere), (state) => new Signer({ ...options, readHsmSecret: () => secret }, state), { syncReadOnly: false });
    // One batch per request, as the hosts serve them (the local signer's group commit, the device's req messages).
    for (const env of envelopes) {
      const batch = core.begin();
      batch.handle(env);
      batch.commit();
    }
  }
  return envelopes.length * WARM_UP_PASSES;
}

/** Files that are always empty: what is appended is dropped. */
const nowhere: FileDir = {
  open: (name: string): FilePort => ({
    name,
    size: () => 0,
    read: () => new Uint8Array(0),
    append: () => {},
    sync: () => {},
    truncate: () => {},
  }),
};

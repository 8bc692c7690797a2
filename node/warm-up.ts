/**
 * Warm start: before a Node process serves its first request, it runs the requests of a
 * recorded CLN session (node/warm-up-session.json: node l2's, made by scripts/make-warm-up.mjs)
 * through a throwaway signer core, so the JIT has compiled the hot paths (decoding, policies,
 * transaction building, sighash, the journal's encoding) before lightningd waits on them: in
 * process on the device (warmStart), through its own serving code in the local hsmd
 * (warmStartThrough, broker/warm-serving.ts).
 * Without it the first session after a start runs about twice as slow as later ones
 * (docs/performance-history-local.md).
 *
 * Nothing real is touched: the throwaway Signer gets the recording's own hsm_secret, its
 * journal keeps nothing (files that drop what is appended, or the host's own files in a
 * temporary directory it removes afterwards), and its state is dropped afterwards. The host's
 * curve and options are used, so the paths warmed are the ones that will run.
 */
import { readFileSync } from 'node:fs';
import { SignerCore } from '../core/signer-core.js';
import type { FileDir, FilePort } from '../log/file-port.js';
import { openJournalFiles } from '../log/journal/journal.js';
import { fromHex } from '../signer/bytes.js';
import type { ClientContext, Envelope } from '../signer/envelope.js';
import { MASTER_PERMISSIONS } from '../signer/permissions.js';
import { POLICIES, type PolicyName } from '../signer/policy/catalog.js';
import { DEFAULT_POLICY } from '../signer/policy/policy.js';
import { Signer, type SignerOptions } from '../signer/signer.js';
import type { SignerState } from '../signer/state.js';
import { optimizingEagerly } from './eager-optimization.js';

interface WarmUpSession {
  readonly hsm_secret: string;
  readonly requests: readonly { readonly peer?: string; readonly dbid?: number; readonly perms?: number; readonly req: string }[];
}

/** Passes over the session in process: the second is where most hot functions reach the optimizing compiler. */
export const WARM_UP_PASSES = 2;
/**
 * Passes through a host's serving code, V8 optimizing eagerly: 4 against 2 made the local
 * hsmd's passes 2–5 of a session faster again (docs/performance.md "Warm start"), for ~0.3 s
 * of its start in all.
 */
export const SERVING_WARM_UP_PASSES = 4;

const MASTER: ClientContext = { peer: new Uint8Array(33), dbid: 0n, permissions: MASTER_PERMISSIONS };

/** The signer's settings a warm start takes from its host: the paths warmed are the ones that will run. */
export type WarmUpOptions = Omit<SignerOptions, 'readHsmSecret'>;

/**
 * How one pass's requests reach its throwaway core (fresh, with the recording's secret) through
 * a host's own serving code (the local hsmd's: broker/warm-serving.ts), in order; resolves to
 * how many were answered.
 */
export type WarmUpPass = (core: SignerCore, envelopes: readonly Envelope[]) => Promise<number>;

let warmed = false;

/**
 * Warms this process once (later calls do nothing: the JIT's work is per process): runs the
 * recorded session WARM_UP_PASSES times, each through a fresh Signer (the host's curve, policy
 * and developer flag; the recording's secret) in a SignerCore journaling to nowhere. Tells
 * `log` what it did, or why it could not (which costs only speed).
 */
export function warmStart(options: WarmUpOptions, log: (line: string) => void): void {
  if (warmed) return;
  warmed = true;
  const started = performance.now();
  try {
    reportWarmed(log, runInProcess(options), started);
  } catch (e) {
    log(`warm start skipped: ${(e as Error).message}`);
  }
}

/**
 * warmStart for a host that serves requests itself (the local hsmd): SERVING_WARM_UP_PASSES
 * passes, each pass's requests sent through `pass`, with V8 optimizing eagerly meanwhile
 * (node/eager-optimization.ts), so that code too is compiled before the first real request;
 * the policy's rules only warn (warningOnly). `open` opens each pass's core as the host opens
 * its real one, so V8 compiles the code for the objects it will serve with: a core journaling
 * to nowhere had other classes and shapes, and the code compiled for them was thrown away
 * ("wrong map") at the first real requests (docs/performance.md "The local hsmd's warm start").
 */
export async function warmStartThrough(options: WarmUpOptions, log: (line: string) => void, pass: WarmUpPass, open?: WarmUpCoreOpener): Promise<void> {
  if (warmed) return;
  warmed = true;
  const started = performance.now();
  try {
    reportWarmed(log, await optimizingEagerly(() => runThrough(options, pass, open)), started);
  } catch (e) {
    log(`warm start skipped: ${(e as Error).message}`);
  }
}

function reportWarmed(log: (line: string) => void, requests: number, started: number): void {
  // Said for an operator who never read this file: nothing of theirs was signed or kept.
  log(`warm start: ran ${requests} recorded requests with a test seed (not this node's; nothing kept) in ${Math.round(performance.now() - started)} ms, so the first real ones are fast`);
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

/** Opens one pass's throwaway core over `makeSigner` (the recording's secret). */
export type WarmUpCoreOpener = (makeSigner: (state: SignerState) => Signer) => SignerCore;

/** A core journaling to nowhere. */
const openNowhere: WarmUpCoreOpener = (makeSigner) => SignerCore.open(openJournalFiles(nowhere), makeSigner, { syncReadOnly: false }).core;

/** `passes` fresh throwaway cores, one a pass: the recording's secret, a journal that keeps nothing. */
function* throwawayCores(options: WarmUpOptions, passes: number, open: WarmUpCoreOpener = openNowhere): Generator<SignerCore> {
  const secret = fromHex(readSession().hsm_secret);
  for (let pass = 0; pass < passes; pass++) yield open((state) => new Signer({ ...options, readHsmSecret: () => secret }, state));
}

function runInProcess(options: WarmUpOptions): number {
  const envelopes = recordedEnvelopes();
  let handled = 0;
  for (const core of throwawayCores(options, WARM_UP_PASSES)) handled += inProcess(core, envelopes);
  return handled;
}

/**
 * The host's policy with every rule warning only, for the serving path: its checks run as
 * configured, but one stricter than the recording meets (an allowlist, a lower limit) cannot
 * refuse a request of lightningd's, which ends a pass as it ends a real hsmd.
 */
const warningOnly = (options: WarmUpOptions): WarmUpOptions => ({
  ...options,
  policy: { ...(options.policy ?? DEFAULT_POLICY), warnOnly: new Set(Object.keys(POLICIES) as PolicyName[]) },
});

async function runThrough(options: WarmUpOptions, pass: WarmUpPass, open?: WarmUpCoreOpener): Promise<number> {
  const envelopes = recordedEnvelopes();
  let handled = 0;
  for (const core of throwawayCores(warningOnly(options), SERVING_WARM_UP_PASSES, open)) handled += await pass(core, envelopes);
  return handled;
}

/** One batch per request, as the device gets them in `req` messages one at a time. */
function inProcess(core: SignerCore, envelopes: readonly Envelope[]): number {
  for (const env of envelopes) {
    const batch = core.begin();
    batch.handle(env);
    batch.commit();
  }
  return envelopes.length;
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

/**
 * ops/s per node-level hsmd request type through the in-process Signer, on nobleCurve and
 * on fastCurve(), with the requests CLN v25.12.1 sent in two recorded sessions
 * (test/fixtures/transcripts). Each signer is initialized by replaying the recording's
 * node-level exchanges in order; then each type's recorded requests are handled in turn,
 * over and over, noble and fast alternating. Replies are compared with the recording while timing, so a figure for a
 * request that stopped answering as CLN did is flagged rather than trusted.
 */
import { fastCurve } from '../node/curve-native.js';
import { equal, fromHex } from '../signer/bytes.js';
import type { Curve } from '../signer/crypto/curve.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import type { Envelope } from '../signer/envelope.js';
import { Signer } from '../signer/signer.js';
import { messageNameOf } from '../signer/wire/messages.js';
import { fixturePath } from '../test/fixtures.js';
import { clientOf, loadTranscript } from '../test/transcript.js';
import { type Bench, fmtOps, fmtRatio, type Measurement, measure, printTable } from './harness.js';

const TRANSCRIPTS = ['hsmd-basic-legacy.jsonl', 'session-basic-l1.jsonl'];

/** test/signer-transcripts.test.ts NODE_LEVEL: requests with no commitment or on-chain tx. */
const NODE_LEVEL = new Set([1, 2, 3, 4, 6, 8, 10, 11, 18, 22, 23, 24, 25, 26, 27, 28, 30, 31, 32, 33, 34, 37, 38, 39, 41, 45, 51, 52, 56, 99]);

interface Request {
  readonly type: number;
  readonly envelope: Envelope;
  /** CLN's reply (null: none). */
  readonly reply: Uint8Array | null;
}

function loadRequests(name: string): { hsmSecret: Uint8Array; developer: boolean; requests: Request[] } {
  const { header, exchanges } = loadTranscript(fixturePath(`transcripts/${name}`));
  const requests: Request[] = [];
  for (const ex of exchanges) {
    const message = fromHex(ex.req);
    const type = (message[0]! << 8) | message[1]!;
    if (!NODE_LEVEL.has(type)) continue;
    const client = clientOf(ex);
    requests.push({ type, envelope: { id: BigInt(ex.seq), client, at: 0, message }, reply: ex.rep === null ? null : fromHex(ex.rep) });
  }
  return { hsmSecret: fromHex(header.hsm_secret), developer: header.hsmd_args.includes('--developer'), requests };
}

/** True if the signer answered `r`, stamped `at` (unix seconds), as CLN did. */
function answersAsRecorded(signer: Signer, r: Request, at = r.envelope.at): boolean {
  const { reply } = signer.handle({ ...r.envelope, at });
  if (reply.kind === 'none') return r.reply === null;
  return reply.kind === 'frame' && r.reply !== null && equal(reply.frame, r.reply);
}

interface TypeResult {
  readonly measurement: Measurement;
  /** Replies during timing that differed from the recording. */
  readonly differing: number;
}

/**
 * A signer that replayed the recording, and the passes over recorded requests timed on it
 * since. The recording approved each payment once (preapprove_invoice and _keysend, and their
 * _check forms when not check-only); timing repeats them, which policy-payment-velocity
 * rightly refuses once the repeats add up to its limit within its window. So each pass is
 * stamped one velocity window after the one before: every pass decides in a window holding
 * only its own approvals, as the recording did, under the same policy.
 */
interface Replayed {
  readonly signer: Signer;
  passes: number;
}

/** A signer on `curve`, brought to the recording's state by replaying it in order. */
function replayedSigner(curve: Curve, loaded: ReturnType<typeof loadRequests>): Replayed {
  const signer = new Signer({ curve, developer: loaded.developer, readHsmSecret: () => loaded.hsmSecret });
  for (const r of loaded.requests) answersAsRecorded(signer, r);
  return { signer, passes: 0 };
}

/** Times one type's recorded requests, cycled, on `replayed` (each pass a window later). */
function timeType(replayed: Replayed, ofType: readonly Request[], budgetMs: number): TypeResult {
  let differing = 0;
  const windowSec = replayed.signer.policy.velocityWindowSec;
  const measurement = measure((i) => {
    if (i % ofType.length === 0) replayed.passes++;
    if (!answersAsRecorded(replayed.signer, ofType[i % ofType.length]!, replayed.passes * windowSec)) differing++;
  }, budgetMs);
  return { measurement, differing };
}

/**
 * noble and fast alternate, two rounds of half the budget each, keeping each one's best:
 * on a shared 2-core machine, GC and neighbours otherwise favour whichever ran second.
 */
function timeBoth(signers: readonly [Replayed, Replayed], ofType: readonly Request[], budgetMs: number): [TypeResult, TypeResult] {
  const best: (TypeResult | undefined)[] = [undefined, undefined];
  for (let round = 0; round < 2; round++) {
    signers.forEach((signer, k) => {
      const r = timeType(signer, ofType, budgetMs / 2);
      const prev = best[k];
      const differing = r.differing + (prev?.differing ?? 0);
      const keep = prev && prev.measurement.opsPerSec > r.measurement.opsPerSec ? prev : r;
      best[k] = { measurement: keep.measurement, differing };
    });
  }
  return [best[0]!, best[1]!];
}

const cell = (m: Measurement) => `${fmtOps(m.opsPerSec)} (${m.iterations})`;

export const nodeRequestsBench: Bench = {
  name: 'Node-level requests through the in-process Signer: nobleCurve vs fastCurve()',
  run({ baseline, budgetMs }) {
    const fast = fastCurve();
    if (fast === nobleCurve) console.log('(fastCurve() fell back to nobleCurve here: both columns are noble)');
    const base = baseline.nobleSign.opsPerSec;
    for (const name of TRANSCRIPTS) {
      const loaded = loadRequests(name);
      const types = [...new Set(loaded.requests.map((r) => r.type))].sort((a, b) => a - b);
      const signers = [replayedSigner(nobleCurve, loaded), replayedSigner(fast, loaded)] as const;
      const results = new Map(types.map((t) => [t, timeBoth(signers, loaded.requests.filter((r) => r.type === t), budgetMs)]));
      console.log(`\n${name}: ${loaded.requests.length} node-level requests, ${types.length} types`);
      const rows = types.map((type) => {
        const [n, f] = results.get(type)!;
        const differing = n.differing + f.differing;
        return [
          `${type} ${messageNameOf(type) ?? '?'}`,
          String(loaded.requests.filter((r) => r.type === type).length),
          cell(n.measurement),
          cell(f.measurement),
          fmtRatio(f.measurement.opsPerSec / n.measurement.opsPerSec),
          fmtRatio(n.measurement.opsPerSec / base),
          fmtRatio(f.measurement.opsPerSec / base),
          differing === 0 ? 'yes' : `no (${n.differing}/${f.differing})`,
        ];
      });
      printTable(
        ['request type', 'recorded', 'noble ops/s (n)', 'fast ops/s (n)', 'fast/noble', 'noble÷base', 'fast÷base', 'replies = CLN'],
        rows,
      );
    }
  },
};

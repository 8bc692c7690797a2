/**
 * The recorded session session-basic-l1 (a node's start, channel open, payments both ways,
 * withdraw, mutual close: 199 exchanges) replayed after init, every reply checked against
 * CLN's recording while timing:
 * - through the Signer in this process (the signer's own cost), noble curve and hashes, and native ones; the
 *   native pass also times the curve calls alone: the session's libsecp256k1 work, the
 *   CLN-like compute a C hsmd cannot go below;
 * - through bin/sphinx-hsmd spawned as lightningd spawns it, local signer and remote path
 *   (embedded MQTT → a bin/sphinx-signer process), one process pair replaying the session
 *   PASSES times: pass 1 is cold (JIT), the best later pass is warm. The remote path once more
 *   without its warm start (SPHINX_WARM_UP_MS=0), to show what that buys in this run.
 * - through CLN's own hsmd, when SPHINX_CLN_HSMD names one, spawned and replayed the same way.
 * Each path is given against its floor (docs/performance.md), run in series in this run
 * (bench/series-floor.ts): local = CLN's hsmd on each exchange + one fsync per state-changing
 * request; remote = CLN's hsmd + for every journaled request an MQTT round trip, a device fsync
 * and a broker LevelDB sync. The same summed from the parts alone (bench/floors.ts) is printed
 * beside it. Without CLN's hsmd, its lower bound stands in: the exchange's curve calls + a UNIX
 * round trip.
 */
import { fastCurve } from '../node/curve-native.js';
import { equal, fromHex } from '../signer/bytes.js';
import type { Curve } from '../signer/crypto/curve.js';
import { type Hashes, nobleHashes, useHashes } from '../signer/crypto/hashes.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import { nativeHashes } from '../node/hashes-native.js';
import { Signer } from '../signer/signer.js';
import { fixturePath } from '../test/fixtures.js';
import { sessionSignerOptions } from '../test/session-records.js';
import { messageType } from '../signer/wire/messages.js';
import { clientOf, loadTranscript } from '../test/transcript.js';
import { fmtMs, percentile } from './floors.js';
import { CLN_HSMD, type SignerMode, withHsmd } from './hsmd-process.js';
import type { SimLightningd } from '../demo/sim-lightningd.js';
import { type Bench, fmtRatio, printTable } from './harness.js';
import { localSeries, remoteSeries, type SeriesPasses, type SeriesStep } from './series-floor.js';

const SESSION = 'session-basic-l1.jsonl';
const PASSES = 5;
/**
 * More passes through the same processes after those, reported beside the target, not in it: V8
 * keeps tiering up both paths' code for thousands of requests (docs/performance-history-local.md,
 * docs/performance-history.md).
 */
const LATER_PASSES = 10;
/** The target: every path within this factor of its floor. */
const TARGET = 1.5;

const CLIENT_HSMFD = messageType('hsmd_client_hsmfd');
const WIRE_HSMD_INIT = messageType('hsmd_init');

/** `curve` with the time spent inside its calls added up. */
function timedCurve(curve: Curve): { curve: Curve; spentMs: () => number } {
  let spent = 0;
  const timed = new Proxy(curve, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const start = performance.now();
        try {
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        } finally {
          spent += performance.now() - start;
        }
      };
    },
  });
  return { curve: timed, spentMs: () => spent };
}

interface InProcess {
  readonly ms: number;
  readonly curveMs: number;
  /** Requests after init the signer handled (client_hsmfd is the broker's). */
  readonly requests: number;
  /** Of those, the ones whose decision had events (their journal record must be synced first). */
  readonly stateChanging: number;
  /** Each of those requests by its transcript seq: its curve time, and whether it had events. */
  readonly bySeq: ReadonlyMap<number, { readonly curveMs: number; readonly stateChanging: boolean }>;
}

/** One pass over the session after init in a fresh Signer on `hashes`; throws on a wrong reply. */
function replayInProcess(baseCurve: Curve, hashes: Hashes): InProcess {
  useHashes(hashes);
  const { exchanges } = loadTranscript(fixturePath(`transcripts/${SESSION}`));
  const { curve, spentMs } = timedCurve(baseCurve);
  // The recording's options: its withdrawals pay the other node, which the session's allowlist names.
  const signer = new Signer({ ...sessionSignerOptions(SESSION), curve });
  let id = 0n;
  let ms = 0;
  let curveAtInit = 0;
  let requests = 0;
  let stateChanging = 0;
  const bySeq = new Map<number, { curveMs: number; stateChanging: boolean }>();
  for (const ex of exchanges) {
    const message = fromHex(ex.req);
    const type = (message[0]! << 8) | message[1]!;
    if (type === CLIENT_HSMFD) continue; // the broker's, not the signer's
    const started = performance.now();
    const curveBefore = spentMs();
    const { reply, events } = signer.handle({ id: ++id, client: clientOf(ex), at: 0, message });
    if (type === WIRE_HSMD_INIT) curveAtInit = spentMs();
    else {
      ms += performance.now() - started;
      requests++;
      if (events.length > 0) stateChanging++;
      bySeq.set(ex.seq, { curveMs: spentMs() - curveBefore, stateChanging: events.length > 0 });
    }
    if (reply.kind !== 'frame' || !equal(reply.frame, fromHex(ex.rep!))) throw new Error(`seq ${ex.seq}: reply differs from CLN's`);
  }
  return { ms, curveMs: spentMs() - curveAtInit, requests, stateChanging, bySeq };
}

/** One pass through bin/sphinx-hsmd: its milliseconds after init, and each exchange's, ascending and by seq. */
interface ProcessPass {
  readonly ms: number;
  readonly exchangeMs: readonly number[];
  readonly bySeq: ReadonlyMap<number, number>;
}

/** One replay after init on `ld`; throws if a reply differs from CLN's. */
function replayPass(ld: SimLightningd, path: string, pass: number): ProcessPass {
  const bySeq = new Map<number, number>();
  const result = ld.replay(path, (ex, _matched, us) => {
    if (ex.seq !== 1) bySeq.set(ex.seq, us / 1000);
  });
  if (result.failed > 0) throw new Error(`pass ${pass + 1}: ${result.failed} replies differ from CLN's`);
  const exchangeMs = [...bySeq.values()];
  return { ms: exchangeMs.reduce((a, b) => a + b, 0), exchangeMs: exchangeMs.sort((a, b) => a - b), bySeq };
}

/**
 * The session's exchanges after init as steps of the series floors (bench/series-floor.ts): the
 * hsmd's time on each is CLN's in `hsmd` (its best warm pass), or without it the exchange's curve
 * calls + a UNIX round trip; client_hsmfd changes nothing and never reaches the device.
 */
function seriesSteps(hsmd: ProcessPass | undefined, signer: InProcess, unixRoundTripMs: number): SeriesStep[] {
  const seqs = hsmd ? [...hsmd.bySeq.keys()] : [...signer.bySeq.keys()];
  return seqs.map((seq) => {
    const request = signer.bySeq.get(seq);
    const computeMs = hsmd ? hsmd.bySeq.get(seq)! : request!.curveMs + unixRoundTripMs;
    return { computeMs, stateChanging: request?.stateChanging ?? false, toDevice: request !== undefined };
  });
}

const SERIES_PASSES = 5;
/** The best pass's total of `passes`. */
const bestTotal = (passes: SeriesPasses): number => Math.min(...passes.map((p) => p.reduce((a, b) => a + b, 0)));

/**
 * `passes` replays after init through one bin/sphinx-hsmd (and device): new_channel restarts the
 * session's channel (same dbid), so every pass gets CLN's replies, and the first includes the
 * processes' JIT warm-up. CLN's hsmd gets a process per pass: it keeps every dbid-0 client
 * (lightningd's daemons) for its lifetime in a fixed array, which a second pass overflows; C
 * has no JIT to warm.
 */
async function replayThroughProcess(mode: SignerMode | 'cln', passes = PASSES, env: Readonly<Record<string, string>> = {}): Promise<ProcessPass[]> {
  const path = fixturePath(`transcripts/${SESSION}`);
  const { header } = loadTranscript(path);
  if (mode !== 'cln') return withHsmd(mode, header, (ld) => Array.from({ length: passes }, (_, pass) => replayPass(ld, path, pass)), env);
  const runs: ProcessPass[] = [];
  for (let pass = 0; pass < passes; pass++) runs.push(await withHsmd(mode, header, (ld) => replayPass(ld, path, pass)));
  return runs;
}

/**
 * "per exchange p50 …, p99 …, mean …; n over 2× p50, x% of the pass" of the warm pass: the
 * remote-path bench gives hsmd_ecdh's p50, while a session's total is a mean, tail included
 * (docs/performance-history.md); the slow exchanges' share says how much of the total the tail is.
 */
function perExchange(runs: readonly ProcessPass[]): string {
  const warm = runs.slice(1).reduce((a, b) => (b.ms < a.ms ? b : a));
  const { exchangeMs } = warm;
  const p50 = percentile(exchangeMs, 0.5);
  const slow = exchangeMs.filter((ms) => ms > 2 * p50);
  const slowShare = slow.reduce((a, b) => a + b, 0) / warm.ms;
  return `per exchange p50 ${fmtMs(p50)}, p99 ${fmtMs(percentile(exchangeMs, 0.99))}, mean ${fmtMs(warm.ms / exchangeMs.length)}; ` +
    `${slow.length} over 2× p50, ${Math.round(slowShare * 100)}% of the pass`;
}

export const sessionReplayBench: Bench = {
  name: `replay ${SESSION} after init (199 exchanges), cold and warm, against its floors`,
  async run({ floors }) {
    const noble = Array.from({ length: PASSES }, () => replayInProcess(nobleCurve, nobleHashes));
    const native = Array.from({ length: PASSES }, () => replayInProcess(fastCurve(), nativeHashes));
    const best = (runs: readonly number[]) => Math.min(...runs);
    const { requests, stateChanging } = native[0]!;
    const compute = best(native.map((r) => r.curveMs));
    const exchanges = requests + 1; // + hsmd_client_hsmfd, answered by the broker itself
    // CLN's hsmd's lower bound: the curve work it cannot avoid and a UNIX round trip per exchange.
    const lowerBound = compute + exchanges * floors.unixRoundTripMs;
    const clnAll = CLN_HSMD === undefined ? undefined : await replayThroughProcess('cln', PASSES + LATER_PASSES);
    const cln = clnAll?.slice(0, PASSES);
    // CLN's hsmd as it answers this session warm: compute, round trips and its own C around them.
    const hsmd = cln ? best(cln.slice(1).map((r) => r.ms)) : lowerBound;
    // The parts alone (bench/floors.ts, each timed back to back) and in series (bench/series-floor.ts).
    const localPartsWith = (hsmdMs: number) => hsmdMs + stateChanging * floors.fsyncMs;
    const remotePartsWith = (hsmdMs: number) => hsmdMs + requests * (floors.fsyncMs + floors.levelSyncMs + floors.mqttRoundTripMs);
    const hsmdPass = cln?.slice(1).reduce((a, b) => (b.ms < a.ms ? b : a));
    const steps = seriesSteps(hsmdPass, native.reduce((a, b) => (b.curveMs < a.curveMs ? b : a)), floors.unixRoundTripMs);
    const localFloor = bestTotal(localSeries(steps, SERIES_PASSES));
    const remoteFloor = bestTotal(await remoteSeries(steps, SERIES_PASSES));
    const localAll = await replayThroughProcess('local', PASSES + LATER_PASSES);
    const local = localAll.slice(0, PASSES);
    const localLater = best(localAll.slice(PASSES).map((r) => r.ms));
    const remoteAll = await replayThroughProcess('remote', PASSES + LATER_PASSES);
    const remote = remoteAll.slice(0, PASSES);
    const remoteLater = best(remoteAll.slice(PASSES).map((r) => r.ms));
    // The same without the path's warm start (docs/remote-protocol.md "Warm start"): what it buys, in this run.
    const remoteCold = await replayThroughProcess('remote', PASSES, { SPHINX_WARM_UP_MS: '0' });
    const localWarm = best(local.slice(1).map((r) => r.ms));
    const remoteWarm = best(remote.slice(1).map((r) => r.ms));

    const rows: string[][] = [];
    const row = (label: string, runs: readonly number[], floor?: number) => {
      const warm = best(runs.slice(1));
      rows.push([label, fmtMs(runs[0]!), fmtMs(warm), floor === undefined ? '' : fmtMs(floor), floor === undefined ? '' : `${fmtRatio(runs[0]! / floor)} / ${fmtRatio(warm / floor)}`]);
    };
    row('signer in-process, noble curve and hashes (pure JS)', noble.map((r) => r.ms));
    row('signer in-process, native curve and hashes', native.map((r) => r.ms));
    if (cln) row(`CLN's hsmd (${CLN_HSMD})`, cln.map((r) => r.ms), lowerBound);
    row('bin/sphinx-hsmd, local signer', local.map((r) => r.ms), localFloor);
    row('bin/sphinx-hsmd, remote (embedded MQTT → sphinx-signer)', remote.map((r) => r.ms), remoteFloor);
    row('  the same without its warm start (SPHINX_WARM_UP_MS=0)', remoteCold.map((r) => r.ms), remoteFloor);
    printTable(['path', 'cold (pass 1)', `warm (best of ${PASSES - 1})`, 'floor (in series)', 'cold / warm ÷ floor'], rows);
    const hsmdTerm = cln
      ? `CLN's hsmd's time on each exchange in its best warm pass (${fmtMs(hsmd)}; its own floor, the CLN-like compute + ${exchanges} UNIX round trips, is ${fmtMs(lowerBound)})`
      : `CLN's hsmd's lower bound for each exchange, its curve calls + a UNIX round trip (${fmtMs(lowerBound)}; SPHINX_CLN_HSMD names no CLN hsmd to time)`;
    console.log(
      `CLN-like compute: the session's libsecp256k1 calls ${fmtMs(compute)} (best pass); ${requests} requests after init, ` +
        `${stateChanging} state-changing. Floors, in series (best of ${SERIES_PASSES} passes): local = ${hsmdTerm}, each followed by ` +
        `write + fsync where state-changing; remote = the same with each of the ${requests} requests followed by an MQTT round trip ` +
        `whose far end appends + fsyncs, then a LevelDB sync. Target ≤ ${TARGET}× warm: local ${verdict(localWarm, localFloor)}, ` +
        `remote ${verdict(remoteWarm, remoteFloor)}. Against the parts alone (summed from the floors above: local ${fmtMs(localPartsWith(hsmd))}, ` +
        `remote ${fmtMs(remotePartsWith(hsmd))}) local is ${fmtRatio(localWarm / localPartsWith(hsmd))}× and remote ${fmtRatio(remoteWarm / remotePartsWith(hsmd))}×` +
        (cln ? `; against them with CLN's own floor as the hsmd, ${fmtRatio(localWarm / localPartsWith(lowerBound))}× and ${fmtRatio(remoteWarm / remotePartsWith(lowerBound))}×. ` : '. ') +
        `In passes ${PASSES + 1}–${PASSES + LATER_PASSES} (more of the JIT warm): local best ${fmtMs(localLater)}, ${fmtRatio(localLater / localFloor)}×; ` +
        `remote best ${fmtMs(remoteLater)}, ${fmtRatio(remoteLater / remoteFloor)}×` +
        (clnAll ? `; CLN's hsmd best ${fmtMs(best(clnAll.slice(PASSES).map((r) => r.ms)))}. ` : '. ') +
        `Warm pass, local: ${perExchange(local)}; remote: ${perExchange(remote)}` + (cln ? `; CLN's hsmd: ${perExchange(cln)}.` : '.'),
    );
  },
};

/** "met (1.2×)" or "missed by 40% (2.1×)". */
export function verdict(ms: number, floor: number, target = TARGET): string {
  const ratio = ms / floor;
  const by = (ratio / target - 1) * 100;
  return ratio <= target ? `met (${fmtRatio(ratio)}×)` : `missed by ${by < 1 ? by.toFixed(1) : Math.round(by)}% (${fmtRatio(ratio)}×)`;
}


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
 * The process paths and their floors run in rounds (benchRounds), in turn; the figures are the
 * rounds' medians.
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
import { fmtMs, median, percentile } from './floors.js';
import { CLN_HSMD, type SignerMode, withHsmd } from './hsmd-process.js';
import type { SimLightningd } from '../demo/sim-lightningd.js';
import { type Bench, benchRounds, fmtRatio, printTable } from './harness.js';
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
  const warm = runs.slice(1, PASSES).reduce((a, b) => (b.ms < a.ms ? b : a));
  const { exchangeMs } = warm;
  const p50 = percentile(exchangeMs, 0.5);
  const slow = exchangeMs.filter((ms) => ms > 2 * p50);
  const slowShare = slow.reduce((a, b) => a + b, 0) / warm.ms;
  return `per exchange p50 ${fmtMs(p50)}, p99 ${fmtMs(percentile(exchangeMs, 0.99))}, mean ${fmtMs(warm.ms / exchangeMs.length)}; ` +
    `${slow.length} over 2× p50, ${Math.round(slowShare * 100)}% of the pass`;
}

/** One round's passes through each process path, and its floors. */
interface Round {
  /** CLN's hsmd, PASSES + LATER_PASSES, if SPHINX_CLN_HSMD names one. */
  readonly cln: readonly ProcessPass[] | undefined;
  /** The hsmd term: CLN's hsmd's best warm pass, or its lower bound. */
  readonly hsmdMs: number;
  readonly localFloor: number;
  readonly remoteFloor: number;
  /** PASSES + LATER_PASSES each. */
  readonly local: readonly ProcessPass[];
  readonly remote: readonly ProcessPass[];
  /** PASSES, SPHINX_WARM_UP_MS=0. */
  readonly remoteCold: readonly ProcessPass[];
}

const best = (runs: readonly number[]): number => Math.min(...runs);
/** Pass 1, the best of passes 2–PASSES, and the best of the later passes (if any) of one path. */
const cold = (passes: readonly ProcessPass[]): number => passes[0]!.ms;
const warm = (passes: readonly ProcessPass[]): number => best(passes.slice(1, PASSES).map((r) => r.ms));
const later = (passes: readonly ProcessPass[]): number => best(passes.slice(PASSES).map((r) => r.ms));

async function round(signer: InProcess, lowerBound: number, unixRoundTripMs: number): Promise<Round> {
  const cln = CLN_HSMD === undefined ? undefined : await replayThroughProcess('cln', PASSES + LATER_PASSES);
  // CLN's hsmd as it answers this session warm: compute, round trips and its own C around them.
  const hsmdPass = cln?.slice(1, PASSES).reduce((a, b) => (b.ms < a.ms ? b : a));
  const steps = seriesSteps(hsmdPass, signer, unixRoundTripMs);
  return {
    cln,
    hsmdMs: hsmdPass?.ms ?? lowerBound,
    localFloor: bestTotal(localSeries(steps, SERIES_PASSES)),
    remoteFloor: bestTotal(await remoteSeries(steps, SERIES_PASSES)),
    local: await replayThroughProcess('local', PASSES + LATER_PASSES),
    remote: await replayThroughProcess('remote', PASSES + LATER_PASSES),
    // The same without the path's warm start (docs/remote-protocol.md "Warm start"): what it buys, in this run.
    remoteCold: await replayThroughProcess('remote', PASSES, { SPHINX_WARM_UP_MS: '0' }),
  };
}

/** The round whose `ratio` is the rounds' median: its passes describe the median run. */
const medianRound = (rounds: readonly Round[], ratio: (r: Round) => number): Round => {
  const sorted = [...rounds].sort((a, b) => ratio(a) - ratio(b));
  return sorted[sorted.length >> 1]!;
};

export const sessionReplayBench: Bench = {
  name: `replay ${SESSION} after init (199 exchanges), cold and warm, against its floors`,
  async run({ floors }) {
    const count = benchRounds();
    const noble = Array.from({ length: PASSES }, () => replayInProcess(nobleCurve, nobleHashes));
    const native = Array.from({ length: PASSES }, () => replayInProcess(fastCurve(), nativeHashes));
    const { requests, stateChanging } = native[0]!;
    const compute = best(native.map((r) => r.curveMs));
    const exchanges = requests + 1; // + hsmd_client_hsmfd, answered by the broker itself
    // CLN's hsmd's lower bound: the curve work it cannot avoid and a UNIX round trip per exchange.
    const lowerBound = compute + exchanges * floors.unixRoundTripMs;
    const signer = native.reduce((a, b) => (b.curveMs < a.curveMs ? b : a));
    // Rounds in turn, each path in fresh processes and the floors again (benchRounds): the table gives their medians.
    const rounds: Round[] = [];
    for (let r = 0; r < count; r++) {
      rounds.push(await round(signer, lowerBound, floors.unixRoundTripMs));
      if (count > 1) console.log(`round ${r + 1} of ${count} done`);
    }
    const of = (f: (r: Round) => number): number => median(rounds.map(f));
    const hsmd = of((r) => r.hsmdMs);
    // The parts alone (bench/floors.ts, each timed back to back), beside the series floors (bench/series-floor.ts).
    const localPartsWith = (hsmdMs: number) => hsmdMs + stateChanging * floors.fsyncMs;
    const remotePartsWith = (hsmdMs: number) => hsmdMs + requests * (floors.fsyncMs + floors.levelSyncMs + floors.mqttRoundTripMs);
    const localRatio = (r: Round) => warm(r.local) / r.localFloor;
    const remoteRatio = (r: Round) => warm(r.remote) / r.remoteFloor;
    const localWarm = of((r) => warm(r.local));
    const remoteWarm = of((r) => warm(r.remote));

    const rows: string[][] = [];
    const row = (label: string, passes: (r: Round) => readonly ProcessPass[], floor?: (r: Round) => number) => {
      const ratio = floor && `${fmtRatio(of((r) => cold(passes(r)) / floor(r)))} / ${fmtRatio(of((r) => warm(passes(r)) / floor(r)))}`;
      rows.push([label, fmtMs(of((r) => cold(passes(r)))), fmtMs(of((r) => warm(passes(r)))), floor ? fmtMs(of(floor)) : '', ratio ?? '']);
    };
    const inProcess = (label: string, runs: readonly InProcess[]) =>
      rows.push([label, fmtMs(runs[0]!.ms), fmtMs(best(runs.slice(1).map((r) => r.ms))), '', '']);
    inProcess('signer in-process, noble curve and hashes (pure JS)', noble);
    inProcess('signer in-process, native curve and hashes', native);
    if (CLN_HSMD !== undefined) row(`CLN's hsmd (${CLN_HSMD})`, (r) => r.cln!, () => lowerBound);
    row('bin/sphinx-hsmd, local signer', (r) => r.local, (r) => r.localFloor);
    row('bin/sphinx-hsmd, remote (embedded MQTT → sphinx-signer)', (r) => r.remote, (r) => r.remoteFloor);
    row('  the same without its warm start (SPHINX_WARM_UP_MS=0)', (r) => r.remoteCold, (r) => r.remoteFloor);
    printTable(['path', 'cold (pass 1)', `warm (best of ${PASSES - 1})`, 'floor (in series)', 'cold / warm ÷ floor'], rows);
    const hsmdTerm = CLN_HSMD !== undefined
      ? `CLN's hsmd's time on each exchange in its best warm pass (${fmtMs(hsmd)}; its own floor, the CLN-like compute + ${exchanges} UNIX round trips, is ${fmtMs(lowerBound)})`
      : `CLN's hsmd's lower bound for each exchange, its curve calls + a UNIX round trip (${fmtMs(lowerBound)}; SPHINX_CLN_HSMD names no CLN hsmd to time)`;
    const eachRound = (ratio: (r: Round) => number) => rounds.map((r) => `${fmtRatio(ratio(r))}×`).join(', ');
    const localMedian = medianRound(rounds, localRatio);
    const remoteMedian = medianRound(rounds, remoteRatio);
    console.log(
      `CLN-like compute: the session's libsecp256k1 calls ${fmtMs(compute)} (best pass); ${requests} requests after init, ` +
        `${stateChanging} state-changing. Floors, in series (best of ${SERIES_PASSES} passes): local = ${hsmdTerm}, each followed by ` +
        `write + fsync where state-changing; remote = the same with each of the ${requests} requests followed by an MQTT round trip ` +
        `whose far end appends + fsyncs, then a LevelDB sync. Figures are medians of ${count} round${count === 1 ? '' : 's'}, each path in fresh processes and its floors measured again in each ` +
        `(warm ÷ floor by round: local ${eachRound(localRatio)}; remote ${eachRound(remoteRatio)}). ` +
        `Target ≤ ${TARGET}× warm: local ${verdict(of(localRatio))}, remote ${verdict(of(remoteRatio))}. ` +
        `Against the parts alone (summed from the floors above: local ${fmtMs(localPartsWith(hsmd))}, ` +
        `remote ${fmtMs(remotePartsWith(hsmd))}) local is ${fmtRatio(localWarm / localPartsWith(hsmd))}× and remote ${fmtRatio(remoteWarm / remotePartsWith(hsmd))}×` +
        (CLN_HSMD !== undefined ? `; against them with CLN's own floor as the hsmd, ${fmtRatio(localWarm / localPartsWith(lowerBound))}× and ${fmtRatio(remoteWarm / remotePartsWith(lowerBound))}×. ` : '. ') +
        `In passes ${PASSES + 1}–${PASSES + LATER_PASSES} (more of the JIT warm): local best ${fmtMs(of((r) => later(r.local)))}, ${fmtRatio(of((r) => later(r.local) / r.localFloor))}×; ` +
        `remote best ${fmtMs(of((r) => later(r.remote)))}, ${fmtRatio(of((r) => later(r.remote) / r.remoteFloor))}×` +
        (CLN_HSMD !== undefined ? `; CLN's hsmd best ${fmtMs(of((r) => later(r.cln!)))}. ` : '. ') +
        `Warm pass of the median round, local: ${perExchange(localMedian.local)}; remote: ${perExchange(remoteMedian.remote)}` +
        (CLN_HSMD !== undefined ? `; CLN's hsmd: ${perExchange(medianRound(rounds, (r) => warm(r.cln!)).cln!)}.` : '.'),
    );
  },
};

/** "met (1.2×)" or "missed by 40% (2.1×)" for a ratio to the floor. */
export function verdict(ratio: number, target = TARGET): string {
  const by = (ratio / target - 1) * 100;
  return ratio <= target ? `met (${fmtRatio(ratio)}×)` : `missed by ${by < 1 ? by.toFixed(1) : Math.round(by)}% (${fmtRatio(ratio)}×)`;
}


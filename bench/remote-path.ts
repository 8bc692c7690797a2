/**
 * Per-request latency (p50/p99) and requests/s through bin/sphinx-hsmd, local signer against
 * the remote path (simulated lightningd → sphinx-hsmd remote → embedded MQTT → a device
 * process, bin/sphinx-signer), with 1 and with 64 client connections in flight at once.
 * The request is the recorded hsmd_ecdh of hsmd-basic-legacy (a cheap one, so the figures
 * are the path's cost); every reply is checked against the recording. Where SPHINX_CLN_HSMD
 * names CLN's own hsmd, it is driven the same way and its one-connection p50 is the floors'
 * hsmd part (docs/performance.md). The paths and the floors run in rounds (benchRounds), in
 * turn; the figures are the rounds' medians.
 */
import { fastCurve } from '../node/curve-native.js';
import { fixturePath } from '../test/fixtures.js';
import type { SyncConnection } from '../test/sync-wire.js';
import { loadTranscript } from '../test/transcript.js';
import { fmtMs, median, percentile } from './floors.js';
import { CLN_HSMD, type SignerMode, withHsmd } from './hsmd-process.js';
import { type Bench, benchRounds, fmtOps, fmtRatio, printTable } from './harness.js';
import { verdict } from './session-replay.js';
import { localSeries, remoteSeries, type SeriesPasses } from './series-floor.js';

const TRANSCRIPT = 'hsmd-basic-legacy.jsonl';
const WIRE_HSMD_ECDH = 1;
const PERM_ECDH = 1n;

interface Figures {
  readonly requests: number;
  readonly p50: number;
  readonly p99: number;
  readonly perSec: number;
}

const WARM_UP_MS = 1000;
/**
 * And at least this many requests: V8 tiers the remote path's code up over thousands of them
 * (one connection's p50 fell from ~1.5 to ~0.6 ms over its first 4,000 in 2026-12-05's runs),
 * which 1 s at ~1 ms a request does not reach.
 */
const WARM_UP_REQUESTS = 5000;
/** Requests timed for each one-connection floor in series. */
const SERIES_REQUESTS = 1000;

/**
 * Keeps one request in flight on every connection: each one's next request goes out as soon
 * as its reply is read (in connection order), so with 64 connections the signer always has
 * requests waiting, as with lightningd's many connections, until the budget is spent. Timed
 * after WARM_UP_MS and WARM_UP_REQUESTS of the same traffic: the steady state of a long-running
 * hsmd and device (their JIT warm-up is what the session replay's cold pass shows).
 */
function drive(conns: readonly SyncConnection[], req: string, rep: string, budgetMs: number): Figures {
  const latencies: number[] = [];
  const sentAt = conns.map(() => performance.now());
  conns.forEach((c) => c.send(req));
  const started = performance.now();
  const warmupEnd = started + WARM_UP_MS;
  let measuredFrom = 0;
  let counted = 0;
  let warmUp = 0;
  let sending = true;
  for (let outstanding = conns.length; outstanding > 0; ) {
    conns.forEach((c, i) => {
      if (sentAt[i]! < 0) return;
      const got = Buffer.from(c.receive()).toString('hex');
      if (got !== rep) throw new Error(`reply differs from the recording: ${got}`);
      const now = performance.now();
      if (measuredFrom) {
        latencies.push(now - sentAt[i]!);
        counted++;
      }
      if (measuredFrom === 0 && ++warmUp >= WARM_UP_REQUESTS && now >= warmupEnd) measuredFrom = now;
      if (measuredFrom && now - measuredFrom >= budgetMs && counted >= 100) sending = false;
      if (sending) {
        sentAt[i] = performance.now();
        c.send(req);
      } else {
        sentAt[i] = -1;
        outstanding--;
      }
    });
  }
  const elapsed = performance.now() - measuredFrom;
  latencies.sort((a, b) => a - b);
  return { requests: counted, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), perSec: (counted * 1000) / elapsed };
}

async function measurePath(mode: SignerMode | 'cln', budgetMs: number): Promise<Record<1 | 64, Figures>> {
  const { header, exchanges } = loadTranscript(fixturePath(`transcripts/${TRANSCRIPT}`));
  const init = exchanges[0]!;
  const ecdh = exchanges.find((e) => parseInt(e.req.slice(0, 4), 16) === WIRE_HSMD_ECDH)!;
  const channel = exchanges.find((e) => e.peer)!;
  return withHsmd(mode, header, (ld) => {
    if (Buffer.from(ld.master.request(init.req)).toString('hex') !== init.rep) throw new Error('init reply differs');
    const conns = Array.from({ length: 64 }, (_, i) => ld.hsmfd(Buffer.from(channel.peer!, 'hex'), BigInt(i + 1), PERM_ECDH));
    return { 1: drive(conns.slice(0, 1), ecdh.req, ecdh.rep!, budgetMs), 64: drive(conns, ecdh.req, ecdh.rep!, budgetMs) };
  });
}

/**
 * What a C hsmd computes for hsmd_ecdh: one libsecp256k1 secp256k1_ecdh (the native curve,
 * timed one call at a time, the median): the floors' "compute".
 */
function ecdhComputeMs(): number {
  const curve = fastCurve();
  const priv = new Uint8Array(32).fill(7);
  const point = curve.publicKey(new Uint8Array(32).fill(9));
  const times: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const started = performance.now();
    curve.ecdh(priv, point);
    times.push(performance.now() - started);
  }
  return median(times);
}

/** Requests per second the remote path must reach with 64 connections in flight. */
const TARGET_64_PER_SEC = 5000;

/** One round: each path in fresh processes, and the one-connection floors in series with this round's hsmd p50. */
interface PathRound {
  readonly cln: Record<1 | 64, Figures> | undefined;
  /** The hsmd term of the floors: CLN's one-connection p50, or its lower bound. */
  readonly hsmd: number;
  readonly floorOf: Record<SignerMode, number>;
  readonly figures: Record<SignerMode, Record<1 | 64, Figures>>;
}

async function pathRound(budgetMs: number, lowerBound: number): Promise<PathRound> {
  const cln = CLN_HSMD === undefined ? undefined : await measurePath('cln', budgetMs);
  const hsmd = cln ? cln[1].p50 : lowerBound;
  // The parts in series (bench/series-floor.ts), each request as the hsmd's p50 followed by its durable steps.
  const steps = Array.from({ length: SERIES_REQUESTS }, () => ({ computeMs: hsmd, stateChanging: true, toDevice: true }));
  const p50Of = (passes: SeriesPasses) => percentile(passes.flat().sort((a, b) => a - b), 0.5);
  const floorOf = { local: p50Of(localSeries(steps, 1)), remote: p50Of(await remoteSeries(steps, 1)) };
  return { cln, hsmd, floorOf, figures: { local: await measurePath('local', budgetMs), remote: await measurePath('remote', budgetMs) } };
}

/** The rounds' figures as one: their medians, and every request they timed. */
const medianFigures = (all: readonly Figures[]): Figures => ({
  requests: all.reduce((a, f) => a + f.requests, 0),
  p50: median(all.map((f) => f.p50)),
  p99: median(all.map((f) => f.p99)),
  perSec: median(all.map((f) => f.perSec)),
});

export const remotePathBench: Bench = {
  name: `hsmd_ecdh through bin/sphinx-hsmd: local signer vs remote (embedded MQTT → device process), 1 and 64 connections`,
  async run(ctx) {
    const { floors } = ctx;
    const count = benchRounds();
    const budget = Math.max(1000, ctx.budgetMs * 5);
    // One request at a time: local = what an hsmd answering it costs (CLN's, measured, or its lower
    // bound: a UNIX round trip + the ECDH itself) + the journal's fsync; remote adds the broker's
    // durable reply record and the MQTT round trip to the device.
    const compute = ecdhComputeMs();
    const lowerBound = floors.unixRoundTripMs + compute;
    // Rounds in turn (benchRounds): the table gives their medians, the targets the medians of their ratios.
    const rounds: PathRound[] = [];
    for (let r = 0; r < count; r++) {
      rounds.push(await pathRound(budget, lowerBound));
      if (count > 1) console.log(`round ${r + 1} of ${count} done`);
    }
    const of = (f: (r: PathRound) => number): number => median(rounds.map(f));
    const hsmd = of((r) => r.hsmd);
    const cln = CLN_HSMD === undefined ? undefined : { 1: medianFigures(rounds.map((r) => r.cln![1])), 64: medianFigures(rounds.map((r) => r.cln![64])) };
    // 64 connections are a throughput: against CLN's hsmd's on the same 64 (or, without it, one
    // core doing nothing but UNIX round trips and ECDHs), the rate an hsmd that keeps no journal reaches.
    const ceiling = cln
      ? { perSec: cln[64].perSec, name: "CLN's" }
      : { perSec: 1000 / hsmd, name: 'UNIX + ECDH' };
    const rows: string[][] = [];
    const notes: string[] = [];
    const against = (n: 1 | 64, f: Figures, floor?: number, ratio?: number): string =>
      n === 64 ? `${fmtOps(ceiling.perSec)} req/s (${fmtRatio(f.perSec / ceiling.perSec)}× ${ceiling.name})`
        : floor === undefined ? '' : `${fmtMs(floor)} (p50 ${fmtRatio(ratio ?? f.p50 / floor)}×)`;
    const row = (path: string, n: 1 | 64, f: Figures, floor?: number, ratio?: number) =>
      rows.push([`${path}, ${n} connection${n > 1 ? 's' : ''}`, `${f.p50.toFixed(3)} ms`, `${f.p99.toFixed(3)} ms`, fmtOps(f.perSec), String(f.requests), against(n, f, floor, ratio)]);
    if (cln) for (const n of [1, 64] as const) row("CLN's hsmd", n, cln[n], lowerBound);
    const partsOf = { local: hsmd + floors.fsyncMs, remote: hsmd + floors.fsyncMs + floors.levelSyncMs + floors.mqttRoundTripMs };
    for (const mode of ['local', 'remote'] as const) {
      const figures = { 1: medianFigures(rounds.map((r) => r.figures[mode][1])), 64: medianFigures(rounds.map((r) => r.figures[mode][64])) };
      // Each round's p50 against that round's floor; the median of those.
      const ratio = (r: PathRound) => r.figures[mode][1].p50 / r.floorOf[mode];
      row(mode, 1, figures[1], of((r) => r.floorOf[mode]), of(ratio));
      row(mode, 64, figures[64]);
      const byRound = count > 1 ? `, by round ${rounds.map((r) => `${fmtRatio(ratio(r))}×`).join(', ')}` : '';
      notes.push(`${mode}, 1 connection: ${verdict(of(ratio))} (${fmtRatio(figures[1].p50 / partsOf[mode])}× the parts alone, ${fmtMs(partsOf[mode])}${byRound})`);
      if (mode === 'remote') {
        const perSec = figures[64].perSec;
        const target = perSec / TARGET_64_PER_SEC;
        const perSecByRound = count > 1 ? `, by round ${rounds.map((r) => fmtOps(r.figures.remote[64].perSec)).join(', ')}` : '';
        notes.push(`remote, 64 connections: ${fmtOps(perSec)} req/s, ${target >= 1 ? 'met' : `missed by ${Math.round((1 - target) * 100)}%`} (target ${fmtOps(TARGET_64_PER_SEC)} req/s${perSecByRound})`);
      }
    }
    printTable(['path', 'p50', 'p99', 'requests/s', 'timed', 'floor (p50 ÷ floor; 64: req/s ÷ ceiling)'], rows);
    console.log(`${count > 1 ? `figures are medians of ${count} rounds, each path in fresh processes and the floors in series measured again in each ("timed" is their sum); ` : ''}` +
      `latency = from writing the request to reading its reply on the client fd, timed after ${WARM_UP_MS / 1000} s and ${fmtOps(WARM_UP_REQUESTS)} requests of warm-up; with 64 connections all are in flight at once, ` +
      `and their ceiling is ${cln ? "CLN's hsmd's rate on 64 connections in this run" : 'one core doing only UNIX round trips and ECDHs'} (no journal, no MQTT). ` +
      `One-connection floors are the parts in series (p50 of ${SERIES_REQUESTS}: the hsmd's p50, then local an fsync, remote an MQTT round trip whose far end fsyncs and a LevelDB sync; bench/series-floor.ts) and include the hsmd: ${cln ? `CLN's, its p50 ${fmtMs(hsmd)} (its own lower bound: a UNIX round trip + one libsecp256k1 ECDH, ${fmtMs(compute)} median)` : `a UNIX round trip + one libsecp256k1 ECDH, ${fmtMs(compute)} (median; SPHINX_CLN_HSMD names no CLN hsmd to time)`}.`);
    console.log(`targets (≤ 1.5× floor; 64 connections remote ≥ ${fmtOps(TARGET_64_PER_SEC)} req/s): ${notes.join('; ')}`);
  },
};

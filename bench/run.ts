/**
 * `npm run bench`: the machine, a same-process baseline, then each bench module in turn.
 * Every figure is ops/s with the number of calls timed; ratios are against the baseline
 * (raw @noble/curves secp256k1.sign) so runs on different machines can be compared.
 */
import { cpus } from 'node:os';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { auditBench } from './audit.js';
import { chainBench } from './chain.js';
import { brokerLogBench } from './broker-log.js';
import { curveOpsBench } from './curve-ops.js';
import { deviceBootHeapBench } from './device-boot-heap.js';
import { deviceHeapBench } from './device-heap.js';
import { fmtMs, measureFloors } from './floors.js';
import { type Baseline, type Bench, fmtOps, type Measurement, measure, printTable } from './harness.js';
import { journalBench } from './journal.js';
import { nodeRequestsBench } from './node-requests.js';
import { commitmentsBench } from './commitments.js';
import { remotePathBench } from './remote-path.js';
import { sessionReplayBench } from './session-replay.js';
import { sessionGrowthBench } from './session-growth.js';

const BUDGET_MS = Number(process.env['BENCH_BUDGET_MS'] ?? 200);
const ALL_BENCHES: Bench[] = [curveOpsBench, nodeRequestsBench, commitmentsBench, sessionReplayBench, sessionGrowthBench, brokerLogBench, journalBench, remotePathBench, auditBench, chainBench, deviceHeapBench, deviceBootHeapBench];
/** BENCH_ONLY=session,remote runs the benches whose name contains one of the words (the floors always run). */
const only = process.env['BENCH_ONLY']?.split(',').map((w) => w.trim().toLowerCase()).filter(Boolean);
const BENCHES = only ? ALL_BENCHES.filter((b) => only.some((w) => b.name.toLowerCase().includes(w))) : ALL_BENCHES;

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1) + ' MiB';
function memory(label: string): void {
  const { rss, heapUsed } = process.memoryUsage();
  console.log(`memory ${label}: rss ${mib(rss)}, heapUsed ${mib(heapUsed)}`);
}

function measureBaseline(): Baseline {
  const priv = sha256(Uint8Array.of(1));
  const hashes = Array.from({ length: 16 }, (_, i) => sha256(Uint8Array.of(2, i)));
  const block = new Uint8Array(64).fill(7);
  // Best of three: one slow moment on a shared machine would skew every ratio after it.
  const best = (f: (i: number) => void): Measurement =>
    [0, 1, 2].map(() => measure(f, BUDGET_MS)).reduce((a, b) => (b.opsPerSec > a.opsPerSec ? b : a));
  return {
    nobleSign: best((i) => secp256k1.sign(hashes[i & 15]!, priv, { prehash: false })),
    sha256: best(() => sha256(block)),
  };
}

const cpu = cpus();
console.log(`node ${process.version} (${process.platform}/${process.arch}), ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}`);
console.log(`time budget per measurement: ${BUDGET_MS} ms (BENCH_BUDGET_MS); figures are ops/s (calls timed)`);
memory('before');
const started = performance.now();
const baseline = measureBaseline();
console.log(`baseline: noble secp256k1.sign ${fmtOps(baseline.nobleSign.opsPerSec)}/s (${baseline.nobleSign.iterations}), ` +
  `sha256(64 B) ${fmtOps(baseline.sha256.opsPerSec)}/s (${baseline.sha256.iterations}), best of 3; "÷base" = ops/s ÷ that sign rate`);
const floors = await measureFloors();
console.log('\n== floors (medians, measured now on this disk and loopback; every path below is given as a ratio to its floor)');
printTable(['floor', 'median'], [
  ['write 150 B + fsync (device journal)', fmtMs(floors.fsyncMs)],
  ['  their mean (not a floor: a session pays every fsync, its slow ones too)', fmtMs(floors.fsyncMeanMs)],
  ['LevelDB put, sync (broker log)', fmtMs(floors.levelSyncMs)],
  ['MQTT QoS 1 round trip (aedes, in-memory sessions, TCP_NODELAY)', fmtMs(floors.mqttRoundTripMs)],
  ['  the same with aedes sessions in LevelDB (not a floor: what that persistence costs)', fmtMs(floors.mqttRoundTripLevelMs)],
  ['  the same through Mosquitto, C, TCP_NODELAY (not a floor: the server we embed is aedes)', floors.mqttRoundTripMosquittoMs === undefined ? 'mosquitto not installed' : fmtMs(floors.mqttRoundTripMosquittoMs)],
  ['UNIX-socket round trip, 64 B, between two processes (lightningd ↔ hsmd)', fmtMs(floors.unixRoundTripMs)],
  ['  the same within one process (not a floor: no process wakes the other)', fmtMs(floors.unixRoundTripInProcessMs)],
  ['libsecp256k1 ECDSA sign', fmtMs(floors.nativeSignMs)],
]);
for (const bench of BENCHES) {
  console.log(`\n== ${bench.name}`);
  await bench.run({ baseline, floors, budgetMs: BUDGET_MS });
}
console.log();
memory('after');
console.log(`bench took ${((performance.now() - started) / 1000).toFixed(1)} s`);

/**
 * The floors' parts in series, as a path pays them. bench/floors.ts times each part back to
 * back, hundreds in a row. On these VMs a sync that closely follows the previous I/O is
 * answered in ~0.06 ms. One issued after 0.2 ms or more of other work takes 0.2–1.1 ms,
 * depending on the disk's recent history (docs/performance.md "Syncs spaced by work"). A path
 * that computes between its syncs never pays the back-to-back price. So the targets hold each
 * path to its parts run in series, with nothing else between them:
 * - local: for each exchange, a busy wait as long as the hsmd took for it (CLN's, measured in
 *   this run), then, for a state-changing request, write 150 B + fsync;
 * - remote: the same wait, then for each request the device gets, a QoS 1 publish through
 *   aedes to a subscriber that appends 150 B + fsync and echoes it at QoS 1, then a LevelDB put
 *   with { sync: true }: one MQTT round trip, one device sync and one broker sync, in order.
 * Everything runs in this process, through the same aedes and client pair as the MQTT floor
 * (bench/floors.ts), the file and LevelDB: no process is woken that the parts' floors do not wake.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { withAedes, withEchoPair } from './floors.js';

/** One request of a path: how long the hsmd computes on it, and which durable steps follow. */
export interface SeriesStep {
  readonly computeMs: number;
  /** Local: its decision has events, so its record is synced before the reply. */
  readonly stateChanging: boolean;
  /** Remote: it goes to the device (hsmd_client_hsmfd does not: the broker answers it). */
  readonly toDevice: boolean;
}

const RECORD = new Uint8Array(150).fill(0x5a);

/** Busy for `ms`, as an hsmd computing is: a sleep would let the CPU and the disk idle. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** Each pass's milliseconds per step, in step order. */
export type SeriesPasses = readonly (readonly number[])[];

/** `passes` runs of the local path's parts in series over `steps`. */
export function localSeries(steps: readonly SeriesStep[], passes: number): SeriesPasses {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-bench-series-'));
  const fd = openSync(join(dir, 'journal'), 'a');
  try {
    return Array.from({ length: passes }, () =>
      steps.map((step) => {
        const started = performance.now();
        busy(step.computeMs);
        if (step.stateChanging) {
          writeSync(fd, RECORD);
          fsyncSync(fd);
        }
        return performance.now() - started;
      }),
    );
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `passes` runs of the remote path's parts in series over `steps`. */
export async function remoteSeries(steps: readonly SeriesStep[], passes: number): Promise<SeriesPasses> {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-bench-series-'));
  const fd = openSync(join(dir, 'journal'), 'a');
  const db = new Level<string, Uint8Array>(join(dir, 'log'), { valueEncoding: 'view' });
  const deviceSync = () => {
    writeSync(fd, RECORD);
    fsyncSync(fd);
  };
  try {
    await db.open();
    let key = 0;
    return await withAedes(undefined, (url) => withEchoPair(url, deviceSync, async (roundTrip) => {
      const runs: number[][] = [];
      for (let pass = 0; pass < passes; pass++) {
        const times: number[] = [];
        for (const step of steps) {
          const started = performance.now();
          busy(step.computeMs);
          if (step.toDevice) {
            await roundTrip();
            await db.put(String(key++).padStart(12, '0'), RECORD, { sync: true });
          }
          times.push(performance.now() - started);
        }
        runs.push(times);
      }
      return runs;
    }));
  } finally {
    await db.close();
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

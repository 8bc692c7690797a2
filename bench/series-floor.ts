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
 * Everything runs in this process (aedes, both MQTT clients, the file, LevelDB), as the parts
 * alone are measured: no process is woken that the parts' floors do not wake.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { Level } from 'level';
import mqtt from 'mqtt';

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
  const aedes = new Aedes({});
  await aedes.listen();
  const server = net.createServer({ noDelay: true }, (socket) => aedes.handle(socket));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const connect = async (clientId: string) => {
    const c = await mqtt.connectAsync(url, { clientId, clean: false, reconnectPeriod: 0 });
    (c.stream as net.Socket).setNoDelay?.(true);
    return c;
  };
  let broker: mqtt.MqttClient | undefined;
  let device: mqtt.MqttClient | undefined;
  try {
    broker = await connect('series-broker');
    device = await connect('series-device');
    await db.open();
    await device.subscribeAsync('series/req', { qos: 1 });
    const echo = device;
    echo.on('message', (_topic, payload) => {
      writeSync(fd, RECORD);
      fsyncSync(fd);
      void echo.publish('series/res', payload, { qos: 1 });
    });
    const requester = broker;
    await requester.subscribeAsync('series/res', { qos: 1 });
    let answered: (() => void) | undefined;
    requester.on('message', () => answered?.());
    let key = 0;
    const runs: number[][] = [];
    for (let pass = 0; pass < passes; pass++) {
      const times: number[] = [];
      for (const step of steps) {
        const started = performance.now();
        busy(step.computeMs);
        if (step.toDevice) {
          await new Promise<void>((resolve) => {
            answered = resolve;
            requester.publish('series/req', Buffer.from(RECORD), { qos: 1 });
          });
          await db.put(String(key++).padStart(12, '0'), RECORD, { sync: true });
        }
        times.push(performance.now() - started);
      }
      runs.push(times);
    }
    return runs;
  } finally {
    await Promise.all([broker?.endAsync(), device?.endAsync()]);
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise<void>((r) => aedes.close(() => r()));
    await db.close();
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

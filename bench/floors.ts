/**
 * The floors every path is held to, measured in the same run on the same disk and loopback
 * (docs/performance.md): what a durable small append costs (fsync), what the broker's durable
 * LevelDB write costs, an MQTT QoS 1 round trip through aedes (and what LevelDB sessions add
 * to it), a UNIX-socket round trip (lightningd ↔ hsmd), and libsecp256k1's
 * signature. Each is the median of many samples, in milliseconds.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import aedesPersistenceLevel from 'aedes-persistence-level';
import { Level } from 'level';
import mqtt from 'mqtt';
import { fdpass } from '../broker/fdpass.js';
import { fastCurve } from '../node/curve-native.js';

export interface Floors {
  /** write(150 B) + fsync on a file in the temp directory. */
  readonly fsyncMs: number;
  /** Their mean (not a floor: a session pays every fsync, its slow ones too). */
  readonly fsyncMeanMs: number;
  /** LevelDB put of 150 B with { sync: true } (the broker log's durable write). */
  readonly levelSyncMs: number;
  /** Publish QoS 1 → a subscriber echoes QoS 1 → received back, through aedes (in-memory sessions) over TCP (TCP_NODELAY). */
  readonly mqttRoundTripMs: number;
  /** The same round trip with aedes keeping its sessions in LevelDB (aedes-persistence-level). */
  readonly mqttRoundTripLevelMs: number;
  /** The same through Mosquitto (C, `set_tcp_nodelay true`), where it is installed: what a broker not written in JavaScript costs. */
  readonly mqttRoundTripMosquittoMs: number | undefined;
  /**
   * 64 bytes each way over a UNIX socket between two processes, as lightningd and hsmd are: the
   * client as the simulated lightningd does it (blocking write, poll, read), the echo a blocking
   * read/write loop in a child process.
   */
  readonly unixRoundTripMs: number;
  /** The same 64 bytes each way within one process (both ends in one event loop): not a floor, no process wakes the other. */
  readonly unixRoundTripInProcessMs: number;
  /** One libsecp256k1 ECDSA signature (RFC 6979). */
  readonly nativeSignMs: number;
}

const SAMPLES = 300;
const RECORD = new Uint8Array(150).fill(0x5a);

export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
/** The value at fraction `p` (0.5 = p50) of `sorted`, ascending. */
export const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

/** Each of `n` calls timed (after 10 untimed), in milliseconds. */
async function timings(n: number, once: () => void | Promise<void>): Promise<number[]> {
  for (let i = 0; i < 10; i++) await once(); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await once();
    ms.push(performance.now() - start);
  }
  return ms;
}

const samples = async (n: number, once: () => void | Promise<void>): Promise<number> => median(await timings(n, once));

async function fsyncFloor(dir: string): Promise<{ median: number; mean: number }> {
  const fd = openSync(join(dir, 'fsync'), 'a');
  try {
    const ms = await timings(SAMPLES, () => {
      writeSync(fd, RECORD);
      fsyncSync(fd);
    });
    return { median: median(ms), mean: ms.reduce((a, b) => a + b, 0) / ms.length };
  } finally {
    closeSync(fd);
  }
}

async function levelSyncFloor(dir: string): Promise<number> {
  const db = new Level<string, Uint8Array>(join(dir, 'level'), { valueEncoding: 'view' });
  await db.open();
  let key = 0;
  try {
    return await samples(SAMPLES, () => db.put(String(key++).padStart(12, '0'), RECORD, { sync: true }));
  } finally {
    await db.close();
  }
}

async function mqttRoundTrip(dir: string, sessions: 'memory' | 'level'): Promise<number> {
  const db = sessions === 'level' ? new Level<string, unknown>(join(dir, 'sessions')) : undefined;
  try {
    return await withAedes(db ? aedesPersistenceLevel(db) : undefined, (url) => mqttEchoRoundTrip(url));
  } finally {
    await db?.close();
  }
}

/** aedes listening on a loopback port (TCP_NODELAY), with `persistence` or in memory, for `use` of its URL. */
export async function withAedes<T>(persistence: unknown, use: (url: string) => Promise<T>): Promise<T> {
  const aedes = new Aedes(persistence === undefined ? {} : { persistence });
  await aedes.listen();
  const server = net.createServer({ noDelay: true }, (socket) => aedes.handle(socket));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await use(`mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise<void>((r) => aedes.close(() => r()));
  }
}

/** The round trip through a Mosquitto started for it on a free loopback port; undefined where it is not installed. */
async function mosquittoRoundTrip(dir: string): Promise<number | undefined> {
  if (spawnSync('sh', ['-c', 'command -v mosquitto']).status !== 0) return undefined;
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\npersistence false\n`);
  const server = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  try {
    for (let tries = 0; ; tries++) {
      const up = await new Promise<boolean>((resolve) => net.connect(port, '127.0.0.1').once('connect', function (this: net.Socket) { this.destroy(); resolve(true); }).once('error', () => resolve(false)));
      if (up) break;
      if (tries === 50) throw new Error(`mosquitto did not listen on 127.0.0.1:${port} within 5 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return await mqttEchoRoundTrip(`mqtt://127.0.0.1:${port}`);
  } finally {
    server.kill();
  }
}

/** QoS 1 publish → a second client echoes it at QoS 1 → received back, through the server at `url`. */
const mqttEchoRoundTrip = (url: string): Promise<number> => withEchoPair(url, () => {}, (roundTrip) => samples(SAMPLES, roundTrip));

/**
 * Two clients on the server at `url` (TCP_NODELAY): `roundTrip` publishes a record at QoS 1, the
 * second client runs `atEcho` and publishes it back at QoS 1, and it resolves when that arrives.
 */
export async function withEchoPair<T>(url: string, atEcho: () => void, use: (roundTrip: () => Promise<void>) => Promise<T>): Promise<T> {
  const connect = async (clientId: string) => {
    const c = await mqtt.connectAsync(url, { clientId, clean: false, reconnectPeriod: 0 });
    (c.stream as net.Socket).setNoDelay?.(true);
    return c;
  };
  const clients: mqtt.MqttClient[] = [];
  try {
    for (const id of ['floor-broker', 'floor-device']) clients.push(await connect(id));
    const [broker, device] = clients as [mqtt.MqttClient, mqtt.MqttClient];
    await device.subscribeAsync('floor/req', { qos: 1 });
    device.on('message', (_t, payload) => {
      atEcho();
      void device.publish('floor/res', payload, { qos: 1 });
    });
    await broker.subscribeAsync('floor/res', { qos: 1 });
    let pending: (() => void) | undefined;
    broker.on('message', () => pending?.());
    return await use(() =>
      new Promise<void>((resolve) => {
        pending = resolve;
        broker.publish('floor/req', Buffer.from(RECORD), { qos: 1 });
      }),
    );
  } finally {
    await Promise.all(clients.map((c) => c.endAsync()));
  }
}

/** A child that echoes 64-byte messages on its fd 3 until EOF, with blocking reads and writes. */
const ECHO_CHILD = `const fs = require('node:fs'); const b = Buffer.alloc(64);
for (;;) { let n = 0; while (n < 64) { const r = fs.readSync(3, b, n, 64 - n, null); if (r === 0) process.exit(0); n += r; } fs.writeSync(3, b); }`;

async function unixRoundTripBetweenProcesses(): Promise<number> {
  const [ours, theirs] = fdpass.socketpair();
  const child = spawn(process.execPath, ['-e', ECHO_CHILD], { stdio: ['ignore', 'ignore', 'inherit', theirs] });
  closeSync(theirs);
  const message = Buffer.alloc(64, 1);
  const reply = Buffer.alloc(64);
  try {
    return await samples(SAMPLES * 3, () => {
      writeSync(ours, message);
      for (let got = 0; got < 64; ) {
        if (!fdpass.poll(ours, false, 10_000)) throw new Error('the echo process did not answer within 10 s');
        const n = readSync(ours, reply, got, 64 - got, null);
        if (n === 0) throw new Error('the echo process closed its socket');
        got += n;
      }
    });
  } finally {
    closeSync(ours);
    await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
  }
}

async function unixRoundTrip(dir: string): Promise<number> {
  const path = join(dir, 'echo.sock');
  const server = net.createServer((s) => s.on('data', (d) => s.write(d)));
  await new Promise<void>((r) => server.listen(path, r));
  const client = net.connect(path);
  await new Promise<void>((r) => client.once('connect', r));
  const message = Buffer.alloc(64, 1);
  let pending: (() => void) | undefined;
  let got = 0;
  client.on('data', (d) => {
    got += d.length;
    if (got >= message.length) {
      got -= message.length;
      pending?.();
    }
  });
  try {
    return await samples(SAMPLES * 3, () =>
      new Promise<void>((resolve) => {
        pending = resolve;
        client.write(message);
      }),
    );
  } finally {
    client.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

async function nativeSign(): Promise<number> {
  const curve = fastCurve();
  const priv = new Uint8Array(32).fill(3);
  const hash = new Uint8Array(32);
  let i = 0;
  return samples(SAMPLES * 3, () => {
    hash[0] = i++ & 0xff;
    curve.sign(hash, priv);
  });
}

export async function measureFloors(): Promise<Floors> {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-bench-floors-'));
  try {
    const fsync = await fsyncFloor(dir);
    return {
      fsyncMs: fsync.median,
      fsyncMeanMs: fsync.mean,
      levelSyncMs: await levelSyncFloor(dir),
      mqttRoundTripMs: await mqttRoundTrip(dir, 'memory'),
      mqttRoundTripLevelMs: await mqttRoundTrip(dir, 'level'),
      mqttRoundTripMosquittoMs: await mosquittoRoundTrip(dir),
      unixRoundTripMs: await unixRoundTripBetweenProcesses(),
      unixRoundTripInProcessMs: await unixRoundTrip(dir),
      nativeSignMs: await nativeSign(),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const fmtMs = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3)) + ' ms';

/**
 * The embedded MQTT server as its tests start it (broker/remote/mqtt-server.test.ts,
 * mqtt-stale.test.ts): real aedes on a free port, its used tokens in a temporary directory, two
 * device keys, and an mqtt.js client that connects once. Also the attacks on it that the tests
 * of the spawned broker make too (test/remote-token-replay.test.ts, remote-preauth-memory.test.ts):
 * a token re-spelled high-S, and sockets announcing 256 MiB before authenticating.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { fromHex, toHex } from '../signer/bytes.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import type { Credentials } from '../signer/remote/auth-token.js';
import { fromScalar, N, toScalar } from '../signer/crypto/secp256k1/scalars.js';
import { KnownDevices } from '../broker/remote/identity.js';
import { connectMqtt } from '../broker/remote/mqtt-connect.js';
import { type MqttServer, startMqttServer } from '../broker/remote/mqtt-server.js';

export const BROKER_ID = '00112233445566778899aabbccddeeff';
export const KEY_A = new Uint8Array(32).fill(0xa1);
export const KEY_B = new Uint8Array(32).fill(0xb2);
export const ID_A = toHex(nobleCurve.publicKey(KEY_A));
export const ID_B = toHex(nobleCurve.publicKey(KEY_B));

export const serverIn = (dir: string, configured: string[], lines: string[], tls?: { certFile: string; keyFile: string }, curve = nobleCurve) =>
  startMqttServer({
    dataDir: dir,
    port: 0,
    tls: tls && { ...tls, port: 0, host: '127.0.0.1' },
    brokerId: BROKER_ID,
    curve,
    devices: new KnownDevices(dir, configured),
    log: (level, text) => lines.push(`${level}: ${text}`),
  });

export async function withServer(configured: string[], body: (s: MqttServer, lines: string[], dir: string) => Promise<void>, tls?: { certFile: string; keyFile: string }) {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-mqtt-'));
  const lines: string[] = [];
  const server = await serverIn(dir, configured, lines, tls);
  try {
    await body(server, lines, dir);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Connects once (no reconnects): the client, or the refusal's error. */
export async function attempt(url: string, clientId: string, creds: Credentials, extra: object = {}): Promise<{ client: MqttClient; error?: Error }> {
  const client = connectMqtt(url, { clientId, clean: false, reconnectPeriod: 0, ...creds, ...extra });
  const error = await new Promise<Error | undefined>((resolve) => {
    client.once('connect', () => resolve(undefined));
    client.once('error', (e) => resolve(e));
  });
  if (error) client.end(true);
  return { client, error };
}

export const now = () => Date.now();
export const url = (s: MqttServer) => `mqtt://127.0.0.1:${s.port}`;

/** The same token with S replaced by n − S: the same signature, spelled differently (high-S). */
export function otherSpelling(creds: Credentials): Credentials {
  const token = fromHex(creds.password);
  const s = toScalar(token.subarray(token.length - 32));
  return { username: creds.username, password: toHex(token.subarray(0, token.length - 32)) + toHex(fromScalar(N - s)) };
}

/** The refusal of a used token in its high-S spelling: a replay, not a misconfigured device. */
export const REPLAYED_RESPELLED = /: high-S signature \(non-canonical\): a valid token re-spelled with S replaced by n − S, .*: a captured token replayed in another spelling, not a wrong --broker-id; /;

/** A CONNECT's fixed header announcing a remaining length of 268,435,455 bytes (256 MiB), the most MQTT allows. */
const ANNOUNCE_256_MIB = Uint8Array.of(0x10, 0xff, 0xff, 0xff, 0x7f);
/** The refusal of such a CONNECT, as the server logs it. */
export const REFUSED_256_MIB = /refused connection .*: a packet of 268435455 bytes before authenticating \(limit \d+\)/;

/** What one flooding socket had handed to the kernel when it closed, and whether the server closed it first. */
export interface Flooded {
  readonly sent: number;
  readonly cutOff: boolean;
}

/**
 * `sockets` raw TCP connections to 127.0.0.1:`port` that each announce a 256 MiB CONNECT and
 * then send its body, 1 MiB a write as fast as the server reads, up to `mib` MiB (then end).
 * A server that buffers what a packet announces holds all of it; one that refuses the
 * announcement closes the socket first (`cutOff`).
 */
export function floodBeforeAuth(port: number, sockets = 4, mib = 32): Promise<Flooded[]> {
  const chunk = new Uint8Array(1024 * 1024).fill(0x41);
  return Promise.all(Array.from({ length: sockets }, () => new Promise<Flooded>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let sent = 0;
    let ended = false;
    socket.on('error', () => {});
    socket.on('close', () => resolve({ sent, cutOff: !ended }));
    socket.on('connect', () => {
      socket.write(ANNOUNCE_256_MIB);
      const pump = (): void => {
        while (sent < mib * chunk.length && !socket.destroyed) {
          sent += chunk.length;
          if (!socket.write(chunk)) return void socket.once('drain', pump);
        }
        if (socket.destroyed) return;
        ended = true;
        socket.end();
      };
      pump();
    });
  })));
}

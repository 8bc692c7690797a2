/**
 * The embedded MQTT server as its tests start it (broker/remote/mqtt-server.test.ts,
 * mqtt-stale.test.ts): real aedes on a free port, its used tokens in a temporary directory, two
 * device keys, and an mqtt.js client that connects once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { toHex } from '../signer/bytes.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import type { Credentials } from '../signer/remote/auth-token.js';
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

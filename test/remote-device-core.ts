/**
 * The test device's logic (test/remote-device.ts runs it as a process; tests may run it in
 * process): a Node device following docs/remote-protocol.md around the write-ahead
 * SignerCore, journaling in `dataDir` (which holds hsm_secret). Until it has handled an init
 * in this run it drops other requests (the broker sends the init first on hello).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { fastCurve } from '../broker/curve-native.js';
import { connectMqtt } from '../broker/remote/mqtt-connect.js';
import { SignerCore } from '../firmware/app/core.js';
import { NodeDir } from '../firmware/host/node-file.js';
import { openJournalFiles } from '../log/journal/journal.js';
import { toHex } from '../signer/bytes.js';
import type { Envelope } from '../signer/envelope.js';
import { unlockHsmSecret } from '../signer/keys/hsm-secret.js';
import { nodePrivateKey } from '../signer/keys/root-secrets.js';
import { makeCredentials } from '../signer/remote/auth-token.js';
import { decodeRequest, encodeReplyEnvelope } from '../signer/remote/envelope-codec.js';
import { topic } from '../signer/remote/topics.js';
import { Signer } from '../signer/signer.js';

const WIRE_HSMD_INIT = 11;

export interface TestDeviceOptions {
  readonly url: string;
  readonly dataDir: string;
  readonly brokerId: string;
  readonly ca?: Buffer;
  readonly say?: (line: string) => void;
  /** Called with each decoded request before it is decided ('before') and after it is journaled ('journaled'). */
  readonly onRequest?: (env: Envelope, stage: 'before' | 'journaled') => void;
}

export interface TestDevice {
  readonly deviceId: string;
  readonly client: MqttClient;
  readonly core: SignerCore;
  stop(): Promise<void>;
}

export function deviceIdOf(hsmSecret: Uint8Array): string {
  const curve = fastCurve();
  return toHex(curve.publicKey(nodePrivateKey(curve, unlockHsmSecret(hsmSecret))));
}

export function startTestDevice(options: TestDeviceOptions): TestDevice {
  const say = options.say ?? (() => {});
  const curve = fastCurve();
  const secretFile = new Uint8Array(readFileSync(join(options.dataDir, 'hsm_secret')));
  const nodeKey = nodePrivateKey(curve, unlockHsmSecret(secretFile));
  const deviceId = toHex(curve.publicKey(nodeKey));
  const { core } = SignerCore.open(openJournalFiles(new NodeDir(options.dataDir)), (state) =>
    new Signer({ curve, developer: false, readHsmSecret: () => secretFile }, state));
  let initialized = false;
  const fresh = () => makeCredentials(curve, nodeKey, options.brokerId, Date.now());
  const client = connectMqtt(options.url, {
    clientId: deviceId,
    clean: false,
    reconnectPeriod: 100,
    ...fresh(),
    ca: options.ca,
    will: { topic: topic(deviceId, 'status'), payload: Buffer.from('offline'), qos: 1, retain: true },
  });
  // A token is accepted once: every reconnect signs a new one.
  client.on('reconnect', () => Object.assign(client.options, fresh()));
  client.on('error', (e) => say(`mqtt: ${e.message}`));
  client.on('connect', () => {
    say(`connected as ${deviceId}`);
    client.publish(topic(deviceId, 'status'), 'online', { qos: 1, retain: true });
    client.subscribe([topic(deviceId, 'req'), topic(deviceId, 'control')], { qos: 1 }, (err) => {
      if (err) return say(`subscribe: ${err.message}`);
      client.publish(topic(deviceId, 'hello'), JSON.stringify({ lastId: String(core.lastId ?? 0n), firmware: 'test-device' }), { qos: 1 });
    });
  });
  client.on('message', (name, payload) => {
    if (name !== topic(deviceId, 'req')) return;
    let env;
    try {
      env = decodeRequest(new Uint8Array(payload));
    } catch (e) {
      return say(`malformed request dropped: ${(e as Error).message}`);
    }
    const type = (env.message[0]! << 8) | env.message[1]!;
    // After a (re)start the signer's keys come from init: deciding anything else first would
    // journal "not initialized" for good. The broker sends init first and resends the rest.
    if (!initialized && type !== WIRE_HSMD_INIT) return say(`request ${env.id} (type ${type}) before init dropped`);
    options.onRequest?.(env, 'before');
    const handled = core.handle(env);
    if (type === WIRE_HSMD_INIT && handled.reply.kind === 'frame') initialized = true;
    options.onRequest?.(env, 'journaled');
    client.publish(topic(deviceId, 'res'), Buffer.from(encodeReplyEnvelope({ id: env.id, reply: handled.reply })), { qos: 1 });
  });
  return { deviceId, client, core, stop: () => client.endAsync(true) };
}

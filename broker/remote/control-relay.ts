/**
 * The broker's part in signed control (docs/remote-protocol.md "Control"): it relays. A
 * command sphinx-ctl posts (status page, POST /control) is published on its device's
 * `control` topic; the device's signed answer on `control-res` is handed back. The broker
 * holds no key that could sign a command or an answer, and the device refuses a command
 * whose nonce it has seen, so relaying is all the broker can do. Refusals are logged (they
 * reach lightningd's log and the status page).
 */
import { toHex } from '../../signer/bytes.js';
import { commandDigestOf } from '../../signer/control/wire.js';
import { DEVICE_STATUS, parseTopic, topic, TOPIC_ROOT } from '../../signer/remote/topics.js';
import type { ServerLog } from './mqtt-server.js';
import type { BrokerMqtt } from './local-client.js';

export const CONTROL_TIMEOUT_MS = 15_000;

/** A command the broker cannot relay (400), for a device not connected (503), or not answered (504). */
export class RelayError extends Error {
  override readonly name = 'RelayError';
  constructor(
    readonly status: 400 | 503 | 504,
    message: string,
  ) {
    super(message);
  }
}

/** The device a command is for and the digest its answer names. */
function routeOf(payload: Uint8Array): { device: string; request: string } {
  try {
    const outer = JSON.parse(new TextDecoder().decode(payload)) as { body?: unknown };
    if (typeof outer.body === 'string') {
      const device = (JSON.parse(outer.body) as { device?: unknown }).device;
      if (typeof device === 'string' && /^0[23][0-9a-f]{64}$/.test(device)) return { device, request: toHex(commandDigestOf(payload)) };
    }
  } catch {
    // fall through
  }
  throw new RelayError(400, 'not a signed control command naming its device (sphinx-ctl writes them)');
}

export type ControlRelay = (payload: Uint8Array) => Promise<Uint8Array>;

/**
 * A device counts as connected from its retained "online" status until its "offline" (its last
 * will): it publishes "online" only once it has subscribed to its control topic (docs/remote-protocol.md
 * "Connecting"), so a command relayed to a connected device is delivered, and one for a device that is
 * not connected is refused at once instead of waiting out the timeout.
 */
export function createControlRelay(mqtt: BrokerMqtt, log: ServerLog, timeoutMs = CONTROL_TIMEOUT_MS): ControlRelay {
  const waiting = new Map<string, (answer: Uint8Array) => void>();
  const connected = new Set<string>();
  // Answers are matched only once subscribed; a command waits for that (within its timeout).
  const subscribed = mqtt.subscribeAsync([`${TOPIC_ROOT}/+/control-res`, `${TOPIC_ROOT}/+/status`], { qos: 1 }).then(
    () => true,
    (err: Error) => {
      log('broken', `control relay: subscribing: ${err.message}`);
      return false;
    },
  );
  mqtt.on('message', (name, payload) => {
    const where = parseTopic(name);
    if (where?.suffix === 'status') {
      if (payload.toString('utf8') === DEVICE_STATUS.online) connected.add(where.deviceId);
      else connected.delete(where.deviceId);
      return;
    }
    if (where?.suffix !== 'control-res') return;
    let answer: { request?: unknown; ok?: unknown; refusal?: unknown; error?: unknown };
    try {
      answer = JSON.parse(JSON.parse(payload.toString('utf8')).body);
    } catch {
      return log('unusual', `control relay: device ${where.deviceId} answered with something that is not a control response`);
    }
    if (answer.ok === false) log('unusual', `control: device ${where.deviceId} refused a command (${String(answer.refusal)}): ${String(answer.error)}`);
    const resolve = typeof answer.request === 'string' ? waiting.get(`${where.deviceId}/${answer.request}`) : undefined;
    resolve?.(new Uint8Array(payload));
  });

  return async (payload) => {
    const { device, request } = routeOf(payload);
    const timedOut = () => new RelayError(504, `device ${device} did not answer within ${timeoutMs / 1000} s: is it online and connected to this broker?`);
    const deadline = Date.now() + timeoutMs;
    const ready = await Promise.race([subscribed, new Promise<false>((r) => setTimeout(() => r(false), timeoutMs).unref())]);
    if (!ready) throw timedOut();
    if (!connected.has(device)) {
      throw new RelayError(503, `device ${device} is not connected to this broker: start sphinx-signer with this broker's --mqtt address and --broker-id, then send the command again`);
    }
    const key = `${device}/${request}`;
    return await new Promise<Uint8Array>((resolve, reject) => {
      const done = (answer: Uint8Array) => {
        clearTimeout(timer);
        waiting.delete(key);
        resolve(answer);
      };
      const timer = setTimeout(() => {
        waiting.delete(key);
        reject(timedOut());
      }, Math.max(0, deadline - Date.now()));
      waiting.set(key, done);
      log('info', `control: relaying a command to device ${device}`);
      mqtt.publish(topic(device, 'control'), Buffer.from(payload), { qos: 1 }, (err) => {
        if (err) log('unusual', `control relay: publishing to ${device}: ${err.message}`);
      });
    });
  };
}

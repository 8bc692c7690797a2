/**
 * `sphinx-signer`: the signing device on Node (issue 5 item 6). It connects to the broker's
 * MQTT server, answers hsmd requests from DIR/hsm_secret, journals every decision with
 * fsync before replying, shows its status light as a terminal line, and stops cleanly on
 * SIGTERM/SIGINT (exit 0).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { JournalCorruptError } from '../../log/journal/frame.js';
import { fastCurve } from '../../broker/curve-native.js';
import { Device } from '../app/device.js';
import { DeviceSetupError, type Clock, type TimerHandle } from '../app/ports.js';
import { corruptJournalAdvice } from './journal-advice.js';
import { MqttTransport } from './mqtt-transport.js';
import { NodeStore } from './node-store.js';
import { TerminalLeds } from './terminal-leds.js';

const USAGE = `usage: sphinx-signer --mqtt URL --data DIR --broker-id ID [--passphrase-file FILE] [--developer]
       sphinx-signer --help

The signing device on Node: it connects to the broker (bin/sphinx-hsmd) over MQTT and
answers lightningd's hsmd requests with the seed in DIR/hsm_secret.

  --mqtt URL             the broker's MQTT server, e.g. mqtt://127.0.0.1:1883   (SPHINX_SIGNER_MQTT)
  --data DIR             holds hsm_secret and the signer's journal             (SPHINX_SIGNER_DATA)
  --broker-id ID         the id sphinx-hsmd prints at start (SPHINX_DATA_DIR/broker-id)
                                                                               (SPHINX_SIGNER_BROKER_ID)
  --passphrase-file FILE the passphrase of a mnemonic hsm_secret that has one
                                                    (or its text in SPHINX_SIGNER_PASSPHRASE)
  --developer            as lightningd's --developer (dev_* requests and init fields)
  --help                 this text

The device's MQTT username is its node id; its password a token signed with the node key.
SIGTERM or SIGINT: finishes the request in hand, says "offline", disconnects, exits 0.
`;

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        mqtt: { type: 'string' },
        data: { type: 'string' },
        'broker-id': { type: 'string' },
        'passphrase-file': { type: 'string' },
        developer: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    return fail(`${(e as Error).message}\n\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const mqttUrl = values.mqtt ?? env.SPHINX_SIGNER_MQTT;
  const dataDir = values.data ?? env.SPHINX_SIGNER_DATA;
  const brokerId = values['broker-id'] ?? env.SPHINX_SIGNER_BROKER_ID;
  const missing = [!mqttUrl && '--mqtt URL', !dataDir && '--data DIR', !brokerId && '--broker-id ID'].filter(Boolean);
  if (missing.length) return fail(`missing ${missing.join(', ')}\n\n${USAGE}`);
  let passphrase = env.SPHINX_SIGNER_PASSPHRASE;
  if (values['passphrase-file']) passphrase = readFileSync(values['passphrase-file'], 'utf8').replace(/\r?\n$/, '');

  const leds = new TerminalLeds();
  const log = (level: string, line: string) => leds.log(`${new Date().toISOString()} ${level.toUpperCase().padEnd(7)} ${line}`);
  const data = resolve(dataDir!);
  const transport = new MqttTransport();
  let device: Device;
  try {
    device = Device.boot({
      transport,
      leds,
      store: new NodeStore(data, { mqttUrl: mqttUrl!, brokerId: brokerId!, passphrase }),
      clock: nodeClock,
      curve: fastCurve(),
      firmware: `sphinx-signer/${packageVersion()} (node ${process.version})`,
      developer: values.developer ?? false,
      log,
      onFatal: (reason) => void stop(2, reason),
    });
  } catch (e) {
    if (e instanceof DeviceSetupError) return fail(e.message);
    if (e instanceof JournalCorruptError) return fail(corruptJournalAdvice(e, data));
    throw e;
  }

  let stopping = false;
  async function stop(code: number, why: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    log('info', `stopping (${why})`);
    await device.stop();
    log('info', 'stopped: MQTT closed');
    if (leds.tty) process.stdout.write('\n');
    process.exit(code);
  }
  process.on('SIGTERM', () => void stop(0, 'SIGTERM'));
  process.on('SIGINT', () => void stop(0, 'SIGINT'));
  device.start();
}

const nodeClock: Clock = {
  now: () => Date.now(),
  after: (ms, fn) => setTimeout(fn, ms) as unknown as TimerHandle,
  cancel: (timer) => clearTimeout(timer as unknown as NodeJS.Timeout),
};

function packageVersion(): string {
  const url = new URL('../../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

function fail(message: string): void {
  process.stderr.write(`sphinx-signer: ${message}\n`);
  process.exitCode = 1;
}

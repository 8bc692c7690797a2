/**
 * `sphinx-signer`: the signing device on Node. It connects to the broker's
 * MQTT server, answers hsmd requests from DIR/hsm_secret, journals every decision with
 * fsync before replying, shows its status light as a terminal line, and stops cleanly on
 * SIGTERM/SIGINT (exit 0). `bootHostDevice` is the adapter wiring, exported so a test
 * harness (test/crashing-device.ts) runs the same Device with wrapped ports.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { JournalCorruptError } from '../../log/journal/frame.js';
import type { FileDir } from '../../log/file-port.js';
import { fastCurve } from '../../node/curve-native.js';
import { warmStart } from '../../node/warm-up.js';
import { compileBaselineAtFirstCall } from '../../node/baseline-code.js';
import { MirrorRefusedError } from '../../log/mirror/verify.js';
import { packageVersion } from '../../node/package-version.js';
import { Device, type DeviceLogLevel } from '../app/device.js';
import { JournalRollbackError } from '../../log/journal/high-water.js';
import { DeviceOnlineError, restoreFromMirror } from '../app/restore.js';
import { standBy } from '../app/spare.js';
import { DeviceRetiredError } from '../app/retired.js';
import { brokerTrust, type BrokerTrust } from '../app/broker-trust.js';
import { DeviceSetupError, type Clock, type StorageLock, type Store, type TimerHandle, type Transport } from '../app/ports.js';
import { corruptJournalAdvice, rollbackAdvice } from '../../node/journal-advice.js';
import { privateStateDir } from '../../node/private-dir.js';
import { MqttTransport } from './mqtt-transport.js';
import { NodeStore } from './node-store.js';
import { TerminalLeds } from './terminal-leds.js';

const USAGE = `usage: sphinx-signer --mqtt URL --data DIR (--broker-id ID | --broker-id-file FILE) [--ca FILE] [--ca-fingerprint SHA256]
                     [--allow-plain] [--passphrase-file FILE] [--mqtt-password-file FILE] [--log-level LEVEL] [--developer] [--restore | --spare]
                     [--accept-journal-rollback] [--accept-mirror-behind ID]
       sphinx-signer --help | --version

The signing device on Node: it connects to the broker (bin/sphinx-hsmd) over MQTT and
answers lightningd's hsmd requests with the seed in DIR/hsm_secret.

  --mqtt URL             the broker's MQTT server: mqtts://host:8883 (TLS), or
                         mqtt://127.0.0.1:1883 on the broker's machine          (SPHINX_SIGNER_MQTT)
  --ca FILE              with mqtts: trust the broker's CA certificate in FILE (sphinx-hsmd with
                         SPHINX_TLS_GENERATE=1 makes SPHINX_DATA_DIR/tls/ca.pem)  (SPHINX_SIGNER_CA)
  --ca-fingerprint SHA256  with mqtts: trust the CA with this SHA-256 fingerprint (sphinx-hsmd
                         logs it at start); with --ca, FILE must have it too
                                                                 (SPHINX_SIGNER_CA_FINGERPRINT)
  --allow-plain          allow mqtt:// to another machine (token and requests in the clear)
  --data DIR             holds hsm_secret and the signer's journal             (SPHINX_SIGNER_DATA)
                         and, if the owner put them there, policy.json (docs/policies.md)
                         and owner.pub (sphinx-ctl keygen's public key)
  --broker-id ID         the id sphinx-hsmd prints at start (SPHINX_DATA_DIR/broker-id)
                                                                               (SPHINX_SIGNER_BROKER_ID)
  --broker-id-file FILE  read the broker id from FILE (e.g. SPHINX_DATA_DIR/broker-id on the
                         broker's machine), waiting until it exists     (SPHINX_SIGNER_BROKER_ID_FILE)
                         Exactly one of --broker-id and --broker-id-file.
  --passphrase-file FILE the passphrase of a mnemonic hsm_secret that has one
                                                    (or its text in SPHINX_SIGNER_PASSPHRASE)
  --mqtt-password-file FILE
                         an external MQTT server's password for this device (examples/
                         mosquitto.conf), sent instead of the signed token the broker's
                         embedded server checks          (SPHINX_SIGNER_MQTT_PASSWORD_FILE)
  --log-level LEVEL      info (default), unusual or broken: the least severe lines written
                                                                       (SPHINX_SIGNER_LOG_LEVEL)
  --developer            as lightningd's --developer (dev_* requests and init fields)
  --accept-journal-rollback
                         start although the journal ends below its high-water mark (it was
                         deleted, cut back or restored from an older copy): only after
                         restoring the newest journal failed, knowing that the lost state
                         (e.g. a revoked commitment) is forgotten
  --restore              DIR lost its journal (a dead card, a new disk): fetch this device's
                         journal mirror from the broker, check its MAC chain and that it is not
                         older than the broker's reply log or DIR's high-water mark (keep
                         high-water-a/-b and mirror-a/-b), rebuild the journal from it, then
                         run as usual. Refused, naming the problem, if the mirror was changed,
                         has a gap or was rolled back (docs/journal.md "Restore").
  --accept-mirror-behind ID
                         with --restore or --spare: restore from a mirror that ends at request
                         id ID although the broker's reply log (or this device's high-water
                         mark) shows later requests answered (the refusal names ID).
                         Only that mirror is accepted (one ending at another id is refused).
                         The requests answered after ID are lost to the device and may be
                         signed again: only when the old journal is gone for good. The broker
                         must then accept the device's hello: SPHINX_ACCEPT_DEVICE_ROLLBACK=
                         <device id>:ID (docs/broker-log.md "The operator's way out")
  --spare                a second device with the same seed and an empty DIR: stands by
                         (connected, but no request comes to it) until the primary goes
                         offline, then catches up from the mirror as --restore does and takes
                         over (docs/journal.md "Spare and failover").
  --version              print the version and exit
  --help                 this text

The device's MQTT username is its node id; its password a token signed with the node key.
Every line starts with its time (UTC); the status light is a line per change (on a terminal,
one line rewritten in place).
SIGTERM or SIGINT: finishes the request in hand, says "offline", disconnects, exits 0.
Exits 1 on a setup problem, 2 if the journal cannot be written, 3 if the broker refused this
device's journal as behind what it answered (a retired device: docs/journal.md "Retiring a device");
DIR/retired records that, and later starts exit 3 at once, without connecting, until it is removed.
`;

/** Wrappers a test harness puts around the host adapters (the product passes none). */
export interface HostPortWrappers {
  readonly transport?: (transport: Transport) => Transport;
  readonly journalDir?: (dir: FileDir) => FileDir;
}

export interface HostDeviceSettings {
  readonly mqttUrl: string;
  /** How to trust the broker (brokerTrust); plain when absent. */
  readonly trust?: BrokerTrust;
  /** The data directory (absolute): hsm_secret and the journal. */
  readonly dataDir: string;
  readonly brokerId: string;
  readonly passphrase?: string;
  readonly developer: boolean;
  /** --accept-journal-rollback: sign from a journal below its high-water mark (high-water.ts). */
  readonly acceptRollback?: boolean;
  /** An external server's password for this device, instead of the signed token. */
  readonly mqttPassword?: string;
  /** The storage lock a restore still holds: the device boots on it rather than taking it again. */
  readonly heldLock?: StorageLock;
  readonly leds: TerminalLeds;
  readonly log: (level: DeviceLogLevel, line: string) => void;
  readonly onFatal: (reason: string) => void;
  /** The broker refused this device's stale journal (Device's onRefused). */
  readonly onRefused: (reason: string) => void;
}

/** The Device on the Node adapters (mqtt.js, fs journal, terminal LEDs); throws as Device.boot does. */
export function bootHostDevice(settings: HostDeviceSettings, wrap: HostPortWrappers = {}): Device {
  const nodeStore = new NodeStore(settings.dataDir, { mqttUrl: settings.mqttUrl, brokerId: settings.brokerId, passphrase: settings.passphrase });
  // A retired device stops in Device.boot (retired.ts) at once: no warm-up for it.
  if (nodeStore.retiredMarker() === undefined) warmStart({ curve: fastCurve(), developer: settings.developer }, (line) => settings.log('info', line));
  const transport = new MqttTransport(settings.trust, settings.mqttPassword);
  const store: Store = wrap.journalDir || settings.heldLock
    ? {
        lock: () => settings.heldLock ?? nodeStore.lock(),
        hsmSecret: () => nodeStore.hsmSecret(),
        passphrase: () => nodeStore.passphrase(),
        config: () => nodeStore.config(),
        journalDir: () => (wrap.journalDir ? wrap.journalDir(nodeStore.journalDir()) : nodeStore.journalDir()),
        highWaterMark: () => nodeStore.highWaterMark(),
        retiredMarker: () => nodeStore.retiredMarker(),
        ownerKey: () => nodeStore.ownerKey(),
        policyFile: () => nodeStore.policyFile(),
      }
    : nodeStore;
  return Device.boot({
    transport: wrap.transport ? wrap.transport(transport) : transport,
    leds: settings.leds,
    store,
    clock: nodeClock,
    curve: fastCurve(),
    firmware: firmwareVersion(),
    developer: settings.developer,
    core: { acceptRollback: settings.acceptRollback ?? false },
    log: settings.log,
    onFatal: settings.onFatal,
    onRefused: settings.onRefused,
  });
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, wrap: HostPortWrappers = {}): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        mqtt: { type: 'string' },
        data: { type: 'string' },
        'broker-id': { type: 'string' },
        'broker-id-file': { type: 'string' },
        'passphrase-file': { type: 'string' },
        ca: { type: 'string' },
        'ca-fingerprint': { type: 'string' },
        'allow-plain': { type: 'boolean' },
        'mqtt-password-file': { type: 'string' },
        'log-level': { type: 'string' },
        developer: { type: 'boolean' },
        'accept-journal-rollback': { type: 'boolean' },
        'accept-mirror-behind': { type: 'string' },
        restore: { type: 'boolean' },
        spare: { type: 'boolean' },
        version: { type: 'boolean' },
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
  if (values.version) {
    process.stdout.write(`sphinx-signer ${packageVersion()}\n`); // as every bin prints it
    return;
  }
  compileBaselineAtFirstCall();
  const logLevel = values['log-level'] ?? env.SPHINX_SIGNER_LOG_LEVEL ?? 'info';
  if (!isLogLevel(logLevel)) return fail(`--log-level ${logLevel}: expected one of ${LOG_LEVELS.join(', ')}`);
  const mqttUrl = values.mqtt ?? env.SPHINX_SIGNER_MQTT;
  const dataDir = values.data ?? env.SPHINX_SIGNER_DATA;
  // A flag overrides the environment; otherwise the environment's (at most one of the two).
  const fromFlags = values['broker-id'] !== undefined || values['broker-id-file'] !== undefined;
  const brokerIdArg = fromFlags ? values['broker-id'] : env.SPHINX_SIGNER_BROKER_ID;
  const brokerIdFile = fromFlags ? values['broker-id-file'] : env.SPHINX_SIGNER_BROKER_ID_FILE;
  if (brokerIdArg !== undefined && brokerIdFile !== undefined) return fail(`give exactly one of --broker-id ID and --broker-id-file FILE\n\n${USAGE}`);
  if (brokerIdArg !== undefined && !BROKER_ID.test(brokerIdArg)) return fail(`${fromFlags ? '--broker-id ' : 'SPHINX_SIGNER_BROKER_ID='}${brokerIdArg} is not a broker id (32 hex digits): copy the one sphinx-hsmd prints at start (its SPHINX_DATA_DIR/broker-id)`);
  // Before waiting for --broker-id-file, which may take until sphinx-hsmd first starts.
  if (values.restore && values.spare) return fail(`give at most one of --restore and --spare\n\n${USAGE}`);
  const behindArg = values['accept-mirror-behind'];
  if (behindArg !== undefined && !(values.restore || values.spare)) return fail(`--accept-mirror-behind is for --restore or --spare (a mirror behind what was answered)\n\n${USAGE}`);
  if (behindArg !== undefined && !/^\d{1,20}$/.test(behindArg)) return fail(`--accept-mirror-behind ${behindArg}: expected the request id the refusal names (a decimal number)`);
  const acceptMirrorBehind = behindArg === undefined ? undefined : BigInt(behindArg);
  const missing = [!mqttUrl && '--mqtt URL', !dataDir && '--data DIR', !brokerIdArg && !brokerIdFile && '--broker-id ID (or --broker-id-file FILE)'].filter(Boolean);
  if (missing.length) return fail(`missing ${missing.join(', ')}\n\n${USAGE}`);
  const caFile = values.ca ?? env.SPHINX_SIGNER_CA;
  const caFrom = values.ca !== undefined ? '--ca ' : 'SPHINX_SIGNER_CA=';
  let trust: BrokerTrust;
  try {
    if (caFile !== undefined && !existsSync(caFile)) return fail(`${caFrom}${caFile}: no such file (sphinx-hsmd's SPHINX_DATA_DIR/tls/ca.pem)`);
    const caPem = caFile === undefined ? undefined : readNamed(caFrom, caFile);
    if (caPem === null) return;
    trust = brokerTrust({
      url: mqttUrl!,
      ...(caFile !== undefined ? { caPem: caPem!, caSource: caFile } : {}),
      ...((values['ca-fingerprint'] ?? env.SPHINX_SIGNER_CA_FINGERPRINT) !== undefined ? { caFingerprint: values['ca-fingerprint'] ?? env.SPHINX_SIGNER_CA_FINGERPRINT } : {}),
      allowPlain: values['allow-plain'] ?? false,
    });
  } catch (e) {
    if (e instanceof DeviceSetupError) return fail(e.message);
    throw e;
  }
  let passphrase = env.SPHINX_SIGNER_PASSPHRASE;
  let mqttPassword: string | undefined;
  if (values['passphrase-file']) {
    const text = readNamed('--passphrase-file ', values['passphrase-file']);
    if (text === null) return;
    passphrase = text.replace(/\r?\n$/, '');
  }
  const passwordFile = values['mqtt-password-file'] ?? env.SPHINX_SIGNER_MQTT_PASSWORD_FILE;
  if (passwordFile) {
    const text = readNamed(values['mqtt-password-file'] !== undefined ? '--mqtt-password-file ' : 'SPHINX_SIGNER_MQTT_PASSWORD_FILE=', passwordFile);
    if (text === null) return;
    mqttPassword = text.replace(/\r?\n$/, '');
  }

  const leds = new TerminalLeds();
  const least = LOG_LEVELS.indexOf(logLevel);
  const log = (level: string, line: string) => {
    if (LOG_LEVELS.indexOf(level as LogLevel) < least) return;
    leds.log(`${leds.stamp()} ${level.toUpperCase().padEnd(7)} ${line}`);
  };
  const data = resolve(dataDir!);
  try {
    privateStateDir(data);
  } catch (e) {
    return fail(`--data ${dataDir}: cannot use it as the data directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): give a directory (created if missing) holding hsm_secret`);
  }
  let device: Device | undefined;
  let stopping = false;
  async function stop(code: number, why: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    log('info', `stopping (${why})`);
    if (device) {
      await device.stop();
      log('info', 'stopped: MQTT closed');
    }
    if (leds.tty) process.stdout.write('\n');
    process.exit(code);
  }
  // Exit 3: the broker refused this device's journal as stale; the device has already left, for good.
  const onRefused = (reason: string): void => {
    process.stderr.write(`sphinx-signer: ${reason}\n`);
    void stop(3, 'refused by the broker');
  };
  process.on('SIGTERM', () => void stop(0, 'SIGTERM'));
  process.on('SIGINT', () => void stop(0, 'SIGINT'));

  const brokerId = brokerIdArg ?? (await readBrokerIdFile(resolve(brokerIdFile!), log));
  if (stopping) return;
  if (!BROKER_ID.test(brokerId)) return fail(`${brokerIdFile} holds ${JSON.stringify(brokerId)}, not a broker id (32 hex digits): give sphinx-hsmd's SPHINX_DATA_DIR/broker-id`);
  let heldLock: StorageLock | undefined;
  if (values.restore || values.spare) {
    const command = `sphinx-signer ${values.spare ? '--spare' : '--restore'}`;
    try {
      const store = new NodeStore(data, { mqttUrl: mqttUrl!, brokerId, passphrase, copyOf: values.spare ? '--spare' : '--restore' });
      for (;;) {
        const lock = values.spare ? await standBy({ transport: new MqttTransport(trust, mqttPassword), store, clock: nodeClock, curve: fastCurve(), log }) : undefined;
        if (stopping) return lock?.release();
        try {
          ({ lock: heldLock } = await restoreFromMirror({ transport: new MqttTransport(trust, mqttPassword), store, clock: nodeClock, curve: fastCurve(), log, acceptMirrorBehind, command, lock }));
          break;
        } catch (e) {
          // The primary came back (a short outage) before the spare caught up: it stays the primary.
          if (!(values.spare && e instanceof DeviceOnlineError)) throw e;
          log('unusual', 'spare: the primary is online again before this spare took over; standing by again');
        }
      }
    } catch (e) {
      if (e instanceof DeviceRetiredError) return fail(e.message, 3);
      if (e instanceof MirrorRefusedError || e instanceof DeviceSetupError) return fail(e.message);
      if (e instanceof JournalCorruptError) return fail(corruptJournalAdvice(e, data));
      throw e;
    }
  }
  try {
    device = bootHostDevice({ mqttUrl: mqttUrl!, trust, dataDir: data, brokerId, passphrase, developer: values.developer ?? false, acceptRollback: values['accept-journal-rollback'] ?? false, mqttPassword, heldLock, leds, log, onFatal: (reason) => void stop(2, reason), onRefused }, wrap);
  } catch (e) {
    // Retired (its data directory remembers the broker's refusal): exit 3 before connecting.
    if (e instanceof DeviceRetiredError) return fail(e.message, 3);
    if (e instanceof DeviceSetupError) return fail(e.message);
    if (e instanceof JournalCorruptError) return fail(corruptJournalAdvice(e, data));
    if (e instanceof JournalRollbackError) return fail(rollbackAdvice(e, '--accept-journal-rollback'));
    throw e;
  }
  device.start();
}

/**
 * The broker id in `path`, once the file exists and holds it: sphinx-hsmd creates it at its
 * first start, so a device started alongside waits (polling, without a deadline).
 */
async function readBrokerIdFile(path: string, log: (level: string, line: string) => void): Promise<string> {
  const read = () => (existsSync(path) ? readFileSync(path, 'utf8').trim() : '');
  let id = read();
  if (!id) log('info', `waiting for ${path} (the broker id sphinx-hsmd writes at its first start)`);
  while (!id) {
    await new Promise((r) => setTimeout(r, 100));
    id = read();
  }
  return id;
}

const nodeClock: Clock = {
  now: () => Date.now(),
  after: (ms, fn) => setTimeout(fn, ms) as unknown as TimerHandle,
  cancel: (timer) => clearTimeout(timer as unknown as NodeJS.Timeout),
};

/** The log levels of --log-level, least severe first (the device's own, DeviceLogLevel). */
const LOG_LEVELS = ['info', 'unusual', 'broken'] as const satisfies readonly DeviceLogLevel[];
type LogLevel = (typeof LOG_LEVELS)[number];
const isLogLevel = (level: string): level is LogLevel => (LOG_LEVELS as readonly string[]).includes(level);

/** What the device reports as its firmware (hello, the broker's status page). */
const firmwareVersion = (): string => `sphinx-signer/${packageVersion()} (node ${process.version})`;

/** The broker id's form: 16 random bytes in hex (docs/remote-protocol.md "Broker id"). */
const BROKER_ID = /^[0-9a-f]{32}$/;

/** The text of a file given as `source` (`--flag ` or `ENV=`), or null once the failure naming both is reported. */
function readNamed(source: string, path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    fail(`${source}${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    return null;
  }
}

function fail(message: string, code = 1): void {
  process.stderr.write(`sphinx-signer: ${message}\n`);
  process.exitCode = code;
}

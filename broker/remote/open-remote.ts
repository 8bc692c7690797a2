/**
 * Puts the remote path together for `SPHINX_SIGNER=remote`: the broker id, the broker log
 * (`SPHINX_DATA_DIR/broker-log`), the embedded MQTT server (or an external one from
 * SPHINX_MQTT_URL), the broker's own MQTT client, and the remote SignerPort on top; the URLs
 * devices connect to go to SPHINX_DATA_DIR/mqtt-url and to the status page.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BrokerLog, brokerLogDir } from '../../log/broker-log/broker-log.js';
import { checkBrokerLogPresent, markBrokerLogCreated } from '../../log/broker-log/log-dir.js';
import { fastCurve } from '../../node/curve-native.js';
import { DEFAULT_WARM_UP_MS, redactedUrl } from '../config.js';
import type { SignerPort } from '../signer-port.js';
import { KnownDevices, loadOrCreateBrokerId, parseDeviceKeys } from './identity.js';
import { connectMqtt } from './mqtt-connect.js';
import { MQTT_URL_FILE, type MqttServer, type ServerLog, startMqttServer } from './mqtt-server.js';
import { hostPort, writeAddressFile } from '../../node/listen.js';
import { checkMirrorPresent, markMirrorCreated, mirrorDir } from '../../log/broker-log/mirror-db.js';
import { recordedEnvelopes } from '../../node/warm-up.js';
import { ECHO_WAIT_MS, NO_WARM_START, WARM_UP_ROUNDS, type WarmPathOptions } from './warm-path.js';
import { attachMirror, type MirrorAttachment } from './mirror-store.js';
import type { BrokerMqtt } from './local-client.js';
import { certificateNames, ensureTlsFiles } from './tls-files.js';
import { createControlRelay } from './control-relay.js';
import { createRemoteSigner } from './remote-signer.js';
import { withChainRelay } from '../chain/with-relay.js';
import type { ChainSourceChoice } from '../chain/source.js';

type TlsListener = { readonly certFile: string; readonly keyFile: string; readonly port: number; readonly host?: string; readonly givesWay?: boolean };

export interface RemoteSettings {
  readonly dataDir: string;
  /** Embedded server's plain listener (SPHINX_MQTT_PORT, SPHINX_MQTT_HOST; default 127.0.0.1). */
  readonly mqttPort: number;
  /** True for the default port: a free one is taken when it is in use (mqtt-server.ts listen). */
  readonly mqttPortGivesWay?: boolean;
  readonly mqttHost?: string;
  /** An external server instead of the embedded one (SPHINX_MQTT_URL). */
  readonly mqttUrl?: string;
  /** The external server's CA (SPHINX_MQTT_CA), a PEM file. */
  readonly mqttCaFile?: string;
  /** SPHINX_DEVICE_KEYS, unparsed. */
  readonly deviceKeys?: string;
  /** SPHINX_ACCEPT_DEVICE_ROLLBACK (docs/broker-log.md "The operator's way out"). */
  readonly acceptRollback?: { readonly device: string; readonly lastId: bigint };
  /** SPHINX_ACCEPT_NEW_BROKER_LOG=1: a new log where one existed (docs/broker-log.md "A missing log"). */
  readonly acceptNewLog?: boolean;
  /** Chain tracking: bitcoind to follow, or why not (broker/chain/source.ts). */
  readonly chain?: ChainSourceChoice;
  readonly tls?: TlsListener;
  /** SPHINX_TLS_GENERATE: the TLS listener on certificates made in SPHINX_DATA_DIR/tls. */
  readonly generateTls?: { readonly port: number; readonly host?: string; readonly givesWay?: boolean; readonly names: readonly string[] };
  /** SPHINX_WARM_UP_MS (warm-path.ts); default DEFAULT_WARM_UP_MS. */
  readonly warmUpMs?: number;
}

/** The TLS listener's files: given, or generated (and the CA fingerprint logged for the devices). */
function tlsListenerOf(settings: RemoteSettings, log: ServerLog): RemoteSettings['tls'] {
  const generate = settings.generateTls;
  if (!generate) return settings.tls;
  const files = ensureTlsFiles(settings.dataDir, certificateNames(generate.names, generate.host));
  log('info', `TLS: ${files.caCreated ? 'made a new CA' : 'CA'} ${files.caFile}, SHA-256 fingerprint ${files.caFingerprint}; ` +
    `start the device with --ca ${files.caFile} (or --ca-fingerprint ${files.caFingerprint}), or copy it to the SD card as ca.pem`);
  log('info', `TLS: server certificate ${files.certFile}${files.serverCreated ? ' (new)' : ''} for ${files.names.join(', ')}; ` +
    'more names with SPHINX_TLS_NAMES');
  if (files.caLacksAuthorityKeyId)
    log('unusual', `TLS: the CA ${files.caFile} has no authorityKeyIdentifier, and the ESP32 firmware's TLS (Moddable's) refuses such a chain; ` +
      `sphinx-signer on a computer is not affected. For an ESP32, move ${dirname(files.caFile)} aside and restart to make a new CA, then copy its ca.pem to the card (docs/device-tls.md)`);
  return { certFile: files.certFile, keyFile: files.keyFile, port: generate.port, ...(generate.host ? { host: generate.host } : {}), givesWay: generate.givesWay ?? false };
}

export interface RemoteSigner {
  readonly signer: SignerPort;
  /** Where devices connect, as a device's --mqtt names it (also in SPHINX_DATA_DIR/mqtt-url). */
  readonly deviceUrls: readonly string[];
}

/** The URLs of the listeners as they are (a default port may have given way), written to SPHINX_DATA_DIR/mqtt-url. */
function deviceUrlsOf(settings: RemoteSettings, tls: TlsListener | undefined, server: MqttServer, log: ServerLog): string[] {
  const tlsHost = tls?.host === undefined || tls.host === '0.0.0.0' || tls.host === '::' ? '<this host>' : tls.host;
  const urls = [`mqtt://${hostPort(server.host, server.port)}`, ...(server.tlsPort === undefined ? [] : [`mqtts://${hostPort(tlsHost, server.tlsPort)}`])];
  writeAddressFile(settings.dataDir, MQTT_URL_FILE, urls, log);
  return urls;
}

/** The warm start (warm-path.ts) SPHINX_WARM_UP_MS asks for, echoing the requests of the recording the signer's warm start replays. */
function warmPathOf(budgetMs: number): WarmPathOptions {
  if (budgetMs === 0) return NO_WARM_START;
  return { rounds: WARM_UP_ROUNDS, budgetMs, echoWaitMs: ECHO_WAIT_MS, payloads: recordedEnvelopes().map((e) => e.message) };
}

/** The journal mirror store, a lost one said loudly (mirror-db.ts checkMirrorPresent), attached to the broker's client. */
async function openMirror(dataDir: string, mqtt: BrokerMqtt, brokerLog: BrokerLog, log: ServerLog): Promise<MirrorAttachment> {
  const lost = checkMirrorPresent(dataDir);
  if (lost) log('broken', lost);
  const mirror = await attachMirror({ mqtt, brokerLog, dir: mirrorDir(dataDir), log });
  markMirrorCreated(dataDir, new Date());
  return mirror;
}

export async function openRemoteSigner(settings: RemoteSettings, log: ServerLog): Promise<RemoteSigner> {
  const brokerId = loadOrCreateBrokerId(settings.dataDir);
  log('info', `broker id ${brokerId.id} (${brokerId.created ? 'created' : 'from'} ${join(settings.dataDir, 'broker-id')}): ` +
    `start the device with --broker-id ${brokerId.id}`);
  const devices = new KnownDevices(settings.dataDir, parseDeviceKeys(settings.deviceKeys));
  const logDir = brokerLogDir(settings.dataDir);
  const present = checkBrokerLogPresent(settings.dataDir, logDir, settings.acceptNewLog ?? false);
  if (present) log('broken', present);
  const brokerLog = await BrokerLog.open(logDir);
  markBrokerLogCreated(settings.dataDir, new Date());
  log('info', `broker log in ${logDir} (${brokerLog.end} records, every key present)`);
  const clientId = `sphinx-broker-${brokerId.id}`;
  try {
    if (settings.mqttUrl) {
      log('unusual', `MQTT: using the external server ${redactedUrl(settings.mqttUrl)}: device authentication and the ` +
        'per-device topic ACL are that server\'s job (the embedded server does them itself; examples/mosquitto.conf configures Mosquitto to)');
      const ca = settings.mqttCaFile === undefined ? undefined : readFileSync(settings.mqttCaFile);
      const mqtt = connectMqtt(settings.mqttUrl, { clientId, clean: false, reconnectPeriod: 1000, ca });
      const mirror = await openMirror(settings.dataDir, mqtt, brokerLog, log);
      const signer = { ...(await createRemoteSigner({ mqtt, brokerLog, log, devices, acceptRollback: settings.acceptRollback, warmUp: warmPathOf(settings.warmUpMs ?? DEFAULT_WARM_UP_MS), onClose: () => mirror.close() })), control: createControlRelay(mqtt, log) };
      const deviceUrls = [redactedUrl(settings.mqttUrl)];
      writeAddressFile(settings.dataDir, MQTT_URL_FILE, deviceUrls, log);
      return { signer: await withChainRelay(signer, settings.chain, () => connectMqtt(settings.mqttUrl!, { clientId: `${clientId}-chain`, reconnectPeriod: 1000, ca }), log), deviceUrls };
    }
    const tls = tlsListenerOf(settings, log);
    const server = await startMqttServer({
      dataDir: settings.dataDir,
      port: settings.mqttPort,
      givesWay: settings.mqttPortGivesWay ?? false,
      ...(settings.mqttHost ? { host: settings.mqttHost } : {}),
      tls,
      brokerId: brokerId.id,
      curve: fastCurve(),
      devices,
      log,
    });
    const deviceUrls = deviceUrlsOf(settings, tls, server, log);
    // In this process: aedes' own publish and subscribe, not a connection to itself.
    const mqtt = server.localClient();
    const mirror = await openMirror(settings.dataDir, mqtt, brokerLog, log);
    const signer = { ...(await createRemoteSigner({ mqtt, brokerLog, log, devices, acceptRollback: settings.acceptRollback, warmUp: warmPathOf(settings.warmUpMs ?? DEFAULT_WARM_UP_MS), keepStaleApart: (rule, kept) => server.keepStaleApart(rule, kept), onClose: async () => {
      await mirror.close();
      await server.close();
    } })), control: createControlRelay(mqtt, log) };
    const chainMqtt = () => connectMqtt(`mqtt://${hostPort(server.host, server.port)}`, { clientId: `${clientId}-chain`, reconnectPeriod: 1000, ...server.internalCredentials });
    return { signer: await withChainRelay(signer, settings.chain, chainMqtt, log), deviceUrls };
  } catch (e) {
    await brokerLog.close();
    throw e;
  }
}

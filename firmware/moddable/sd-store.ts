/**
 * The Store port on the SD card: `<root>/hsm_secret` (CLN's file, any form),
 * `<root>/config.json` ({"mqttUrl", "brokerId", "passphrase"?}), the journal files in
 * `<root>/journal/`, and if present the owner's key `<root>/owner.pub` and the policy
 * `<root>/policy.json` (firmware/README.md); the journal's high-water mark in NVS (nvs-mark.ts);
 * the retired marker (retired.ts) in `<root>/journal/`, so wiping the card removes it.
 */
import { File } from 'file';
import type { FileDir, FilePort } from '../../log/file-port.js';
import { DeviceSetupError, type DeviceConfig, type HighWaterMark, type StorageLock, type Store } from '../app/ports.js';
import { nvsMark } from './nvs-mark.js';
import { brokerTrust, type BrokerTrust } from '../app/broker-trust.js';
import { RETIRED_FILE } from '../app/retired.js';
import { SdDir, SdFile } from './sd-file.js';

interface ConfigFile extends DeviceConfig {
  readonly passphrase?: string;
  /** SHA-256 of ca.pem, as sphinx-hsmd logs it: checked against the file. */
  readonly caFingerprint?: string;
  /** Plain mqtt:// to another machine (token and requests in the clear). */
  readonly allowPlain?: boolean;
  /** SNTP servers, tried in turn before the first login (default pool.ntp.org). */
  readonly sntp?: readonly string[];
}

export class SdStore implements Store {
  #config: ConfigFile | undefined;

  constructor(readonly root: string) {}

  /** One program runs on the ESP32 and it alone mounts the card: nothing to take. */
  lock(): StorageLock {
    return { release: () => {} };
  }

  hsmSecret(): Uint8Array {
    const path = `${this.root}/hsm_secret`;
    if (!File.exists(path)) throw new DeviceSetupError(`no ${path} on the SD card: copy your node's hsm_secret (lightningd's <lightning-dir>/<network>/hsm_secret) to the card as /hsm_secret`);
    const file = new File(path);
    try {
      return new Uint8Array(file.read(ArrayBuffer));
    } finally {
      file.close();
    }
  }

  passphrase(): string | undefined {
    return this.config().passphrase;
  }

  config(): ConfigFile {
    if (this.#config) return this.#config;
    const path = `${this.root}/config.json`;
    if (!File.exists(path)) throw new DeviceSetupError(`no ${path} on the SD card: write {"mqttUrl": "mqtt://<broker host>:1883", "brokerId": "<the id sphinx-hsmd prints>"} there`);
    const file = new File(path);
    let parsed: Partial<ConfigFile>;
    try {
      parsed = JSON.parse(file.read(String)) as Partial<ConfigFile>;
    } catch (e) {
      throw new DeviceSetupError(`${path} is not JSON: ${(e as Error).message}`);
    } finally {
      file.close();
    }
    if (typeof parsed.mqttUrl !== 'string' || typeof parsed.brokerId !== 'string') {
      throw new DeviceSetupError(`${path} needs "mqttUrl" and "brokerId" (strings)`);
    }
    return (this.#config = parsed as ConfigFile);
  }

  /** How to trust the broker: ca.pem on the card for mqtts (docs/device-tls.md). */
  brokerTrust(): BrokerTrust {
    const config = this.config();
    const caPath = `${this.root}/ca.pem`;
    let caPem: string | undefined;
    if (File.exists(caPath)) {
      const file = new File(caPath);
      try {
        caPem = file.read(String);
      } finally {
        file.close();
      }
    }
    const trust = brokerTrust({
      url: config.mqttUrl,
      ...(caPem !== undefined ? { caPem, caSource: caPath } : {}),
      ...(config.caFingerprint !== undefined ? { caFingerprint: config.caFingerprint } : {}),
      allowPlain: config.allowPlain === true,
    });
    if (trust.secure && trust.ca === undefined)
      throw new DeviceSetupError(`${config.mqttUrl} needs ${caPath}: copy sphinx-hsmd's SPHINX_DATA_DIR/tls/ca.pem to the card (the fingerprint alone is not enough here)`);
    return trust;
  }

  journalDir(): FileDir {
    return new SdDir(`${this.root}/journal`);
  }

  highWaterMark(deviceId: string): HighWaterMark {
    return nvsMark(deviceId);
  }

  retiredMarker(): FilePort | undefined {
    const path = `${this.root}/journal/${RETIRED_FILE}`;
    return File.exists(path) ? new SdFile(path) : undefined;
  }

  ownerKey(): string | undefined {
    const bytes = this.#optional(`${this.root}/owner.pub`);
    return bytes && String.fromCharCode(...bytes);
  }

  policyFile(): Uint8Array | undefined {
    return this.#optional(`${this.root}/policy.json`);
  }

  #optional(path: string): Uint8Array | undefined {
    if (!File.exists(path)) return undefined;
    const file = new File(path);
    try {
      return new Uint8Array(file.read(ArrayBuffer));
    } finally {
      file.close();
    }
  }
}

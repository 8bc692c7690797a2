/**
 * The device on an ESP32 (Moddable SDK): the SD card's hsm_secret and config.json, the
 * journal on the card, MQTT over Wi-Fi (the base manifest connects using the `ssid` and
 * `password` given to mcconfig), a NeoPixel status LED (or a plain GPIO LED).
 * The clock is set by SNTP before the first connection: the auth token carries the time.
 * mqtts:// trusts only the CA in the card's ca.pem (docs/device-tls.md).
 */
import SNTP from 'sntp';
import Time from 'time';
import Timer from 'timer';
import boardConfig from 'mc/config';
import Decoder from 'text/decoder';
import Encoder from 'text/encoder';
import fillRandom from 'hardware-random';
import mountSd from 'sd-mount';
import { useHashes } from '../../signer/crypto/hashes.js';
import { createSecp256k1Curve } from '../../signer/crypto/secp256k1/curve.js';
import { DEVICE_KEY_CACHES, DEVICE_MIRROR_OUTBOX_BYTES, DEVICE_SNAPSHOT_EVERY } from '../app/device-memory.js';
import { randomBytesFrom } from '../app/hardware-random.js';
import { syncClock, type SntpAnswer } from '../app/clock-sync.js';
import { Device } from '../app/device.js';
import { DeviceRetiredError } from '../app/retired.js';
import type { Clock, Leds, TimerHandle } from '../app/ports.js';
import { GpioLeds, NeoPixelLeds } from './leds.js';
import { checkHashes, moddableHashes } from './moddable-hashes.js';
import { ModdableMqttTransport } from './mqtt-transport.js';
import { SdStore } from './sd-store.js';

declare const device: { network: { mqtt: ConstructorParameters<typeof ModdableMqttTransport>[0] } };



const clock: Clock = {
  now: () => Date.now(),
  after: (ms, fn) => Timer.set(fn, ms) as unknown as TimerHandle,
  cancel: (timer) => Timer.clear(timer as unknown as Timer),
};

/** One SNTP query (Moddable's `sntp` module retries itself a few times, then reports an error). */
function sntpQuery(host: string, done: (answer: SntpAnswer) => void): void {
  let answered = false;
  new SNTP({ host }, (message, value) => {
    if (answered || message === SNTP.retry) return;
    answered = true;
    done(message === SNTP.time && value !== undefined ? { ok: true, seconds: value } : { ok: false, reason: 'no answer' });
  });
}

/** Mounts the card at `root`, or shows the error light and throws what to check. */
function mountCard(root: string, pins: typeof boardConfig.sdPins, leds: Leds): void {
  try {
    if (pins === undefined) throw new Error('no SD card pins: manifest.json config.sdPins names none');
    mountSd(root, pins.cs, pins.sck, pins.mosi, pins.miso);
  } catch (e) {
    leds.show('error');
    throw new Error(`${(e as Error).message}: check the card's wiring against manifest.json config.sdPins and that it is FAT32 (firmware/README.md "SD card")`);
  }
}

/** Moddable calls the main module's default export at start. */
export default function main(config = boardConfig): void {
  // The shared code (signer/) uses these as globals when it runs, as on Node; nothing uses them
  // while loading (test/device-boot-order.test.ts).
  Object.assign(globalThis, { TextEncoder: Encoder, TextDecoder: Decoder });
  // The native digests, not noble's (read-only scratch buffers once preloaded: docs/device-memory.md "Built by mcconfig").
  checkHashes(moddableHashes);
  useHashes(moddableHashes);
  // Our curve, not noble's (which cannot run preloaded: docs/device-memory.md "BigInts in flash"):
  // no precomputed table, memory before speed; blinding from the hardware RNG.
  const curve = createSecp256k1Curve({ randomBytes: randomBytesFrom(fillRandom) });
  const leds = config.neopixelPin !== undefined ? new NeoPixelLeds(config.neopixelPin) : new GpioLeds(config.ledPin ?? 2);
  const log = (level: string, line: string) => trace(`${level}: ${line}\n`);
  try {
    const root = config.sdRoot ?? '/sd';
    mountCard(root, config.sdPins, leds);
    const store = new SdStore(root);
    const device_ = Device.boot({
      transport: new ModdableMqttTransport(device.network.mqtt, store.brokerTrust()),
      leds,
      store,
      clock,
      curve,
      keyCacheLimits: DEVICE_KEY_CACHES,
      mirrorOutboxBytes: DEVICE_MIRROR_OUTBOX_BYTES,
      core: { snapshotEvery: DEVICE_SNAPSHOT_EVERY },
      firmware: config.firmware ?? 'sphinx-signer-esp32/0.1.0',
      log,
      onFatal: (reason) => log('broken', `${reason}: fix the SD card and restart`),
      // Disconnected for good, LED retired: nothing here restarts or reconnects it, and the card
      // records it (/journal/retired), so a power cycle stops at boot, before connecting (a
      // reboot would otherwise take the active device's MQTT session); the owner wipes the card.
      onRefused: (reason) => log('broken', reason),
    });
    // The login token carries the time: set the clock before the first connection.
    void syncClock(store.config().sntp ?? ['pool.ntp.org', 'time.google.com'], { query: sntpQuery, setTime: (s) => Time.set(s), clock, log }).then(() => device_.start());
  } catch (e) {
    // The error light (or the retired one) is on; the owner reads the reason on the serial
    // console: Device.boot logged a retired device's already.
    if (!(e instanceof DeviceRetiredError)) log('broken', (e as Error).message);
  }
}

/**
 * The device on an ESP32 (Moddable SDK): the SD card's hsm_secret and config.json, the
 * journal on the card, MQTT over Wi-Fi (the base manifest connects using the `ssid` and
 * `password` given to mcconfig), a NeoPixel status LED (or a plain GPIO LED).
 * Time must be set (SNTP) before connecting: the auth token carries it.
 */
import Timer from 'timer';
import boardConfig from 'mc/config';
import Decoder from 'text/decoder';
import Encoder from 'text/encoder';
import fillRandom from 'hardware-random';
import { createNobleCurve } from '../../signer/crypto/noble.js';
import { DEVICE_CURVE_WINDOW, DEVICE_KEY_CACHES } from '../app/device-memory.js';
import { randomBytesFrom } from '../app/hardware-random.js';
import { Device } from '../app/device.js';
import type { Clock, TimerHandle } from '../app/ports.js';
import { GpioLeds, NeoPixelLeds } from './leds.js';
import { ModdableMqttTransport } from './mqtt-transport.js';
import { SdStore } from './sd-store.js';

declare const device: { network: { mqtt: ConstructorParameters<typeof ModdableMqttTransport>[0] } };



const clock: Clock = {
  now: () => Date.now(),
  after: (ms, fn) => Timer.set(fn, ms) as unknown as TimerHandle,
  cancel: (timer) => Timer.clear(timer as unknown as Timer),
};

/** Moddable calls the main module's default export at start. */
export default function main(config = boardConfig): void {
  // The shared code (signer/) uses these as globals when it runs, as on Node; nothing uses them
  // while loading (test/device-boot-order.test.ts).
  Object.assign(globalThis, { TextEncoder: Encoder, TextDecoder: Decoder });
  // Blinding from the hardware RNG; no precomputed table: memory before speed (docs/device-memory.md).
  const curve = createNobleCurve({ randomBytes: randomBytesFrom(fillRandom), windowSize: DEVICE_CURVE_WINDOW });
  const leds = config.neopixelPin !== undefined ? new NeoPixelLeds(config.neopixelPin) : new GpioLeds(config.ledPin ?? 2);
  const log = (level: string, line: string) => trace(`${level}: ${line}\n`);
  try {
    const device_ = Device.boot({
      transport: new ModdableMqttTransport(device.network.mqtt),
      leds,
      store: new SdStore(config.sdRoot ?? '/sd'),
      clock,
      curve,
      keyCacheLimits: DEVICE_KEY_CACHES,
      firmware: config.firmware ?? 'sphinx-signer-esp32/0.1.0',
      log,
      onFatal: (reason) => log('broken', `${reason}: fix the SD card and restart`),
    });
    device_.start();
  } catch (e) {
    // The error light is on; the owner reads the reason on the serial console.
    log('broken', (e as Error).message);
  }
}

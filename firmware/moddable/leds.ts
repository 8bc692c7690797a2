/**
 * The Leds port on a NeoPixel (one RGB LED: the colours of firmware/app/leds.ts), or on a
 * single GPIO LED (on for steady states, blinking for blinking ones; the colour is lost).
 */
import Digital from 'pins/digital';
import NeoPixel from 'neopixel';
import Timer from 'timer';
import { LED_COLOURS, type LedName } from '../app/leds.js';
import type { Leds } from '../app/ports.js';

abstract class BlinkingLeds implements Leds {
  #state: LedName = 'booting';
  #blinker: Timer | undefined;
  #on = false;

  protected abstract light(state: LedName, on: boolean): void;

  show(state: LedName): void {
    this.#state = state;
    if (this.#blinker) Timer.clear(this.#blinker);
    this.#blinker = undefined;
    this.light(state, true);
    const { pattern } = LED_COLOURS[state];
    if (pattern !== 'steady') this.#blinker = Timer.repeat(() => this.light(state, (this.#on = !this.#on)), pattern === 'blink' ? 250 : 1000);
  }

  blink(state: LedName): void {
    this.light(state, true);
    Timer.set(() => this.show(this.#state), 300);
  }
}

export class NeoPixelLeds extends BlinkingLeds {
  readonly #pixel: NeoPixel;

  constructor(pin: number) {
    super();
    this.#pixel = new NeoPixel({ length: 1, pin, order: 'GRB' });
  }

  protected light(state: LedName, on: boolean): void {
    const [r, g, b] = LED_COLOURS[state].rgb;
    this.#pixel.setPixel(0, on ? this.#pixel.makeRGB(r, g, b) : 0);
    this.#pixel.update();
  }
}

export class GpioLeds extends BlinkingLeds {
  constructor(private readonly pin: number) {
    super();
  }

  protected light(_state: LedName, on: boolean): void {
    Digital.write(this.pin, on ? 1 : 0);
  }
}

// Moddable's Linux host has no `neopixel` driver: this stand-in prints the one pixel's colour on
// the console when it changes, the dark half of a blink left out (the firmware's LED states:
// firmware/app/leds.ts).
export default class NeoPixel {
	#pin;
	#pixel = 0;
	#shown = -1;
	constructor(options) { this.#pin = options.pin; }
	makeRGB(r, g, b) { return (r << 16) | (g << 8) | b; }
	setPixel(index, color) { if (index === 0) this.#pixel = color; }
	update() {
		if (this.#pixel === 0 || this.#pixel === this.#shown) return;
		this.#shown = this.#pixel;
		trace(`neopixel ${this.#pin}: #${this.#pixel.toString(16).padStart(6, "0")}\n`);
	}
	close() {}
}

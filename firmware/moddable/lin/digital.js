// Moddable's Linux host has no `pins/digital`: this stand-in prints the pin's level on the
// console when it changes (the firmware's plain status LED, firmware/moddable/leds.ts).
const levels = new Map();
export default class Digital {
	static write(pin, value) {
		if (levels.get(pin) === value) return;
		levels.set(pin, value);
		trace(`led ${pin}: ${value ? "on" : "off"}\n`);
	}
}

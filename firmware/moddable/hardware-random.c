/*
 * The ESP32's hardware RNG for the signer's blinding (firmware/moddable/hardware-random.js).
 * esp_fill_random gives true random numbers while Wi-Fi is on (ESP-IDF "Random Number
 * Generation"); the device starts Wi-Fi before it signs anything.
 */
#include "xsmc.h"
#include "xsHost.h"
#include <esp_random.h>

void xs_hardware_random_fill(xsMachine *the)
{
	int length = xsmcToInteger(xsArg(0));
	if (length < 0 || length > 4096)
		xsRangeError("random byte count out of range");
	xsmcSetArrayBuffer(xsResult, NULL, length);
	esp_fill_random(xsmcToArrayBuffer(xsResult), length);
}

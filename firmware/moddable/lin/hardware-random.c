/*
 * Moddable's Linux host (`mcconfig -p lin`): the same host function as ../hardware-random.c,
 * filled from the kernel's CSPRNG by getrandom(2) instead of the ESP32's esp_fill_random.
 * For building and running the firmware on a PC only (docs/device-memory.md "Built by mcconfig").
 */
#include "xsmc.h"
#include <errno.h>
#include <string.h>
#include <sys/random.h>

void xs_hardware_random_fill(xsMachine *the)
{
	int length = xsmcToInteger(xsArg(0));
	if (length < 0 || length > 4096)
		xsRangeError("random byte count out of range");
	xsmcSetArrayBuffer(xsResult, NULL, length);
	int filled = 0;
	while (filled < length) {
		ssize_t got = getrandom((char *)xsmcToArrayBuffer(xsResult) + filled, length - filled, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			xsUnknownError("getrandom: %s", strerror(errno));
		}
		filled += (int)got;
	}
}

/*
 * Moddable's Linux host (`mcconfig -p lin`): the same host function as ../sd-mount.c, mounting
 * nothing. The "card" is the directory `root` (manifest.json platforms.lin config.sdRoot), which
 * must exist; the pins are ignored. For building and running the firmware on a PC only
 * (docs/device-memory.md "Built by mcconfig").
 */
#include "xsmc.h"
#include <sys/stat.h>

void xs_sd_mount(xsMachine *the)
{
	char *root = xsmcToString(xsArg(0));
	struct stat st;
	if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode))
		xsUnknownError("no directory at %s to stand in for the SD card (Linux host build)", root);
}

/*
 * Mounts the SD card (FAT, on SPI) where the device keeps its journal and files
 * (firmware/moddable/sd-mount.js). ESP-IDF's FAT layer then serves the `file` module's paths
 * under the mount point, fsync included (wiring and pins: firmware/README.md "SD card").
 * The card is never formatted here: a card that does not mount is the owner's to look at,
 * and formatting it would erase the journal that keeps revoked commitments unsignable.
 * Compiled, not run: firmware/README.md "What has run on hardware".
 */
#include "xsmc.h"
#include "xsHost.h"
// Moddable 8.2.3's make.esp32.mk has no include path for ESP-IDF's sdmmc and esp_driver_sdspi
// components: driver/sdspi_host.h and sd_protocol_types.h beside this file forward to them.
#include <driver/sdspi_host.h>
#include <driver/spi_common.h>
#include <esp_err.h>
#include <esp_vfs_fat.h>

static sdmmc_card_t *mounted = NULL;

void xs_sd_mount(xsMachine *the)
{
	if (mounted != NULL)
		return;
	// The pins first: xsmcToString's pointer is into the XS heap, which a later call could move.
	int cs = xsmcToInteger(xsArg(1)), sck = xsmcToInteger(xsArg(2));
	int mosi = xsmcToInteger(xsArg(3)), miso = xsmcToInteger(xsArg(4));
	const char *root = xsmcToString(xsArg(0));

	sdmmc_host_t host = SDSPI_HOST_DEFAULT();
	spi_bus_config_t bus = {
		.mosi_io_num = mosi,
		.miso_io_num = miso,
		.sclk_io_num = sck,
		.quadwp_io_num = -1,
		.quadhd_io_num = -1,
		.max_transfer_sz = 4096,
	};
	esp_err_t err = spi_bus_initialize(host.slot, &bus, SDSPI_DEFAULT_DMA);
	if (err != ESP_OK && err != ESP_ERR_INVALID_STATE) // INVALID_STATE: the bus is already set up
		xsUnknownError("SPI bus (SCK %d, MOSI %d, MISO %d): %s", sck, mosi, miso, esp_err_to_name(err));

	sdspi_device_config_t slot = SDSPI_DEVICE_CONFIG_DEFAULT();
	slot.gpio_cs = cs;
	slot.host_id = host.slot;
	// esp_vfs_fat_mount_config_t: ESP-IDF v6.0 keeps the sdmmc_ name only as a compatibility typedef.
	esp_vfs_fat_mount_config_t options = {
		.format_if_mount_failed = false,
		.max_files = 8, // kept open: the journal and its two snapshot slots, two mirror anchors; then config, ca.pem, policy
		.allocation_unit_size = 16 * 1024,
	};
	err = esp_vfs_fat_sdspi_mount(root, &host, &slot, &options, &mounted); // copies root
	if (err != ESP_OK) {
		mounted = NULL;
		xsUnknownError("SD card not mounted at %s (CS %d, SCK %d, MOSI %d, MISO %d): %s", root, cs, sck, mosi, miso, esp_err_to_name(err));
	}
}

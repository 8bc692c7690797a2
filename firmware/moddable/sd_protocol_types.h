/*
 * Forwards to ESP-IDF's sd_protocol_types.h (included by driver/sdspi_host.h and esp_vfs_fat.h)
 * for sd-mount.c: Moddable 8.2.3's make.esp32.mk puts $(IDF_PATH)/components on the include
 * path but not sdmmc/include.
 */
#include "sdmmc/include/sd_protocol_types.h"

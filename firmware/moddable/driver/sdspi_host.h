/*
 * Forwards to ESP-IDF's driver/sdspi_host.h for sd-mount.c: Moddable 8.2.3's make.esp32.mk
 * puts $(IDF_PATH)/components on the include path but not esp_driver_sdspi/include.
 */
#include "esp_driver_sdspi/include/driver/sdspi_host.h"

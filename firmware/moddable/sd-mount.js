// XS host function (firmware/moddable/sd-mount.c): mounts the FAT card on SPI at `root`; throws naming the pins and ESP-IDF's error.
export default function mountSd(root, cs, sck, mosi, miso) @ "xs_sd_mount";

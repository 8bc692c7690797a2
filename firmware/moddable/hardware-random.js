// XS host function (firmware/moddable/hardware-random.c): `length` bytes from esp_fill_random.
export default function fillRandom(length) @ "xs_hardware_random_fill";

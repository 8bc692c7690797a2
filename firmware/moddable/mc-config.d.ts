// manifest.json "config", as Moddable exposes it in the `mc/config` module.
declare module 'mc/config' {
  const config: {
    readonly sdRoot?: string;
    /** The SD card's SPI pins (firmware/README.md "SD card"). */
    readonly sdPins?: { readonly cs: number; readonly sck: number; readonly mosi: number; readonly miso: number };
    readonly neopixelPin?: number;
    readonly ledPin?: number;
    readonly firmware?: string;
  };
  export default config;
}

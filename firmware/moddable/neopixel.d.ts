// Moddable's `neopixel` module (modules/drivers/neopixel); @moddable/typings has none.
declare module 'neopixel' {
  export default class NeoPixel {
    constructor(options: { length: number; pin: number; order?: string });
    makeRGB(r: number, g: number, b: number): number;
    setPixel(index: number, color: number): void;
    update(): void;
    close(): void;
  }
}

// The shared code uses TextEncoder/TextDecoder as globals; main.ts installs Moddable's
// `text/encoder` and `text/decoder` modules there. These are their shapes as globals.
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: 'utf-8', options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: Uint8Array | ArrayBufferLike, options?: { stream?: boolean }): string;
}

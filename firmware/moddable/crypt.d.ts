// Moddable's `crypt` module (modules/crypt/digest), the part firmware/moddable/moddable-hashes.ts uses;
// @moddable/typings 5.6 has none (mcconfig gives tsc the SDK's own declaration of it instead).
declare module 'crypt' {
  export class Digest {
    constructor(type: 'MD5' | 'SHA1' | 'SHA256' | 'SHA224' | 'SHA512' | 'SHA384');
    write(message: string | ArrayBuffer): void;
    close(): ArrayBuffer;
    reset(): void;
  }
}

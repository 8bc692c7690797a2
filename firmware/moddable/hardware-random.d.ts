// firmware/moddable/hardware-random.js: an XS host function, so declared here.
declare module 'hardware-random' {
  export default function fillRandom(length: number): ArrayBuffer;
}

// firmware/moddable/sd-mount.js: an XS host function, so declared here.
declare module 'sd-mount' {
  export default function mountSd(root: string, cs: number, sck: number, mosi: number, miso: number): void;
}

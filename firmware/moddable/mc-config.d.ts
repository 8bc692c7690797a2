// manifest.json "config", as Moddable exposes it in the `mc/config` module.
declare module 'mc/config' {
  const config: {
    readonly sdRoot?: string;
    readonly neopixelPin?: number;
    readonly ledPin?: number;
    readonly firmware?: string;
  };
  export default config;
}

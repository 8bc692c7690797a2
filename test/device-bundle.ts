/**
 * Bundles the device's module graph into one script, as a firmware build would: each module
 * (our TypeScript sources and the @noble/@scure packages they import) transpiled to a function
 * run once, in import order, on first require. The platform's own modules (Moddable's `timer`,
 * `file`, `embedded:*`, …) come from `platform`, as small sources the caller writes.
 *
 * The script needs no Node global: it runs in a bare `node:vm` context (the boot-order test)
 * and under the XS engine (the memory bench). It ends by assigning the entry's exports to
 * `globalThis.deviceEntry`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { repoRoot } from './fixtures.js';

export interface BundleOptions {
  /** Source file (repo-relative, .ts) whose exports become `globalThis.deviceEntry`. */
  readonly entry: string;
  /** Platform module specifier → CommonJS source (`module.exports = …`). */
  readonly platform?: Readonly<Record<string, string>>;
}

const nodeModules = join(repoRoot, 'node_modules');

/** The file an import names: our .ts beside a `.js` specifier, or a package's file. */
function resolveImport(from: string, specifier: string): string {
  if (specifier.startsWith('.')) {
    const js = resolve(dirname(from), specifier);
    const tsSource = js.replace(/\.js$/, '.ts');
    if (existsSync(tsSource)) return tsSource;
    if (existsSync(js)) return js;
    throw new Error(`${relative(repoRoot, from)}: cannot resolve ${specifier}`);
  }
  // Scoped packages whose "exports" map each subpath to the same file name (noble, scure).
  const match = /^(@[^/]+\/[^/]+)(\/.*)?$/.exec(specifier);
  if (!match) throw new Error(`${relative(repoRoot, from)}: ${specifier} is neither ours nor a platform module`);
  const file = join(nodeModules, match[1]!, match[2] ?? 'index.js');
  if (!existsSync(file)) throw new Error(`${relative(repoRoot, from)}: cannot resolve ${specifier}`);
  return file;
}

function transpile(file: string): string {
  return ts.transpileModule(readFileSync(file, 'utf8'), {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: false, verbatimModuleSyntax: false },
  }).outputText;
}

/** One module of the graph: a file of ours or of a package, or a platform module. */
export interface GraphModule {
  /** Repo-relative path of the source file; undefined for a platform module. */
  readonly file: string | undefined;
  /** The platform module's specifier; undefined for a file. */
  readonly platform: string | undefined;
  /** CommonJS source (a file transpiled; a platform module as the caller wrote it). */
  readonly source: string;
  /** Each specifier the module requires → the index of that module in the graph. */
  readonly requires: Readonly<Record<string, number>>;
}

/** The entry's module graph, entry first: every module it imports, directly or not, once. */
export function deviceModuleGraph(options: BundleOptions): readonly GraphModule[] {
  const platform = options.platform ?? {};
  const ids = new Map<string, number>();
  const modules: GraphModule[] = [];
  const add = (key: string, at: Omit<GraphModule, 'requires'>, deps: (specifier: string) => number): number => {
    const id = modules.length;
    ids.set(key, id);
    const requires: Record<string, number> = {};
    modules.push({ ...at, requires });
    for (const m of at.source.matchAll(/\brequire\("([^"]+)"\)/g)) requires[m[1]!] = deps(m[1]!);
    return id;
  };
  const visit = (file: string): number => {
    const known = ids.get(file);
    if (known !== undefined) return known;
    return add(file, { file: relative(repoRoot, file), platform: undefined, source: transpile(file) }, (specifier) => {
      if (Object.hasOwn(platform, specifier)) {
        const key = `platform:${specifier}`;
        return ids.get(key) ?? add(key, { file: undefined, platform: specifier, source: platform[specifier]! }, () => -1);
      }
      return visit(resolveImport(file, specifier));
    });
  };
  visit(join(repoRoot, options.entry));
  return modules;
}

/** One script holding the entry's module graph. */
export function bundleDevice(options: BundleOptions): string {
  const bodies = deviceModuleGraph(options).map(({ source, requires }) =>
    `[${JSON.stringify(requires)}, function (module, exports, require) {\n${source}\n}]`);
  return `(function () {
  "use strict";
  const modules = [${bodies.join(',\n')}];
  const cache = [];
  function load(id) {
    if (cache[id]) return cache[id].exports;
    const module = { exports: {} };
    cache[id] = module;
    const [table, body] = modules[id];
    body(module, module.exports, (specifier) => load(table[specifier]));
    return module.exports;
  }
  globalThis.deviceEntry = load(0);
})();
`;
}

/** CommonJS source of a platform module that exports `names` as inert stand-ins. */
export function inertModule(defaultExport: string, named: Readonly<Record<string, string>> = {}): string {
  const parts = Object.entries({ default: defaultExport, ...named }).map(([k, v]) => `${JSON.stringify(k)}: ${v}`);
  return `module.exports = { __esModule: true, ${parts.join(', ')} };`;
}

/**
 * The platform modules firmware/moddable/main.ts imports, as inert stand-ins: loading must not
 * need them to do anything (the boot-order test); the firmware manifest test names them too.
 */
export const MODDABLE_STANDINS: Readonly<Record<string, string>> = {
  timer: inertModule('{ set() {}, repeat() {}, clear() {} }'),
  'mc/config': inertModule('{}'),
  'text/decoder': inertModule('class Decoder {}'),
  'text/encoder': inertModule('class Encoder {}'),
  'pins/digital': inertModule('class Digital {}'),
  neopixel: inertModule('class NeoPixel {}'),
  crypt: inertModule('undefined', { Digest: 'class Digest {}' }),
  file: inertModule('undefined', { File: 'class File {}', Iterator: 'class Iterator {}' }),
  preference: inertModule('{ get() {}, set() {}, delete() {}, keys() { return []; } }'),
  'embedded:network/mqtt/client': inertModule('class MQTTClient {}'),
  'embedded:io/socket/tcp': inertModule('class TCP {}'),
  'embedded:io/socket/tcp/tls': inertModule('class TLSSocket {}'),
  sntp: inertModule('class SNTP {}'),
  'hardware-random': inertModule('function fillRandom() { throw new Error("no RNG at load"); }'),
  'sd-mount': inertModule('function mountSd() { throw new Error("no SD card at load"); }'),
  time: inertModule('{ set() {} }'),
};

/** The source files (repo-relative) of the firmware's module graph, from firmware/moddable/main.ts, entry first; Moddable's modules have none. */
export const firmwareGraphFiles = (): string[] =>
  deviceModuleGraph({ entry: 'firmware/moddable/main.ts', platform: MODDABLE_STANDINS }).flatMap((m) => (m.file === undefined ? [] : [m.file]));

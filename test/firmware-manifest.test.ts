/**
 * The firmware's manifest (firmware/moddable/manifest.json) against the firmware's module graph
 * (test/device-bundle.ts, from firmware/moddable/main.ts): every module of the graph has one
 * name in the manifest's "modules", every import resolves to that name as XS resolves
 * specifiers, and "preload" names exactly the graph's modules, so that they are run at build
 * time and kept in flash rather than RAM (docs/device-memory.md, "Preloaded modules").
 * Naming follows the Moddable SDK's mcconfig: a "prefix/*": "dir/*" entry names each file of
 * dir (not its subdirectories) prefix + its name without the extension; a preload entry without
 * a wildcard must equal such a name (a wildcard would match JavaScript files only). Checked for
 * each platform the manifest builds: "esp32" (the device) and "lin" (Moddable's Linux host),
 * each with its "platforms" entry's modules and preloads added (docs/device-memory.md).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, posix, relative } from 'node:path';
import test from 'node:test';
import { deviceModuleGraph, MODDABLE_STANDINS } from './device-bundle.js';
import { repoRoot } from './fixtures.js';

const FIRMWARE = join(repoRoot, 'firmware', 'moddable');

type Modules = Readonly<Record<string, string | readonly string[]>>;

interface Manifest {
  readonly modules: Modules;
  readonly preload?: readonly string[];
  readonly creation?: { readonly main?: string };
  readonly platforms?: Readonly<Record<string, { readonly modules?: Modules; readonly preload?: readonly string[] }>>;
}

const manifest = JSON.parse(readFileSync(join(FIRMWARE, 'manifest.json'), 'utf8')) as Manifest;
const PLATFORMS = ['esp32', 'lin'] as const;

/** A file name without its extension, as mcconfig takes it ("x.d.ts" is a declaration, no module). */
function moduleFileName(file: string): string | undefined {
  if (file.endsWith('.d.ts')) return undefined;
  const match = /^(.*)\.(ts|js|mjs)$/.exec(file);
  return match?.[1];
}

/**
 * Module name → repo-relative source files, for every JavaScript or TypeScript module the
 * manifest maps on `platform`. A source with an extension names that one file.
 */
function manifestModules(platform: (typeof PLATFORMS)[number]): Map<string, string[]> {
  const names = new Map<string, string[]>();
  const add = (name: string, file: string) => names.set(name, [...(names.get(name) ?? []), relative(repoRoot, file)]);
  const entries = [...Object.entries(manifest.modules), ...Object.entries(manifest.platforms?.[platform]?.modules ?? {})];
  for (const [target, sources] of entries) {
    if (target === '~') continue;
    const targetStar = target.indexOf('*');
    for (const source of typeof sources === 'string' ? [sources] : sources) {
      const path = join(FIRMWARE, source);
      const directory = dirname(path);
      const pattern = basename(path);
      const sourceStar = pattern.indexOf('*');
      const exact = sourceStar < 0 && moduleFileName(pattern) !== undefined;
      for (const entry of readdirSync(directory)) {
        const file = join(directory, entry);
        const name = moduleFileName(entry);
        if (name === undefined || entry.startsWith('.') || !statSync(file).isFile()) continue;
        if (exact ? entry !== pattern : sourceStar >= 0 ? !name.startsWith(pattern.slice(0, sourceStar)) : name !== pattern) continue;
        if (targetStar < 0) add(target, file);
        else add(target.slice(0, targetStar) + (sourceStar >= 0 ? name.slice(sourceStar) : name), file);
      }
    }
  }
  return names;
}

/** The module an import names, resolved as XS does: relative to the importer's name, ".js" dropped. */
function xsResolve(importer: string, specifier: string): string {
  const name = specifier.replace(/^moddable:/, '').replace(/\.(js|mjs|xsb)$/, '');
  if (!name.startsWith('./') && !name.startsWith('../')) return name;
  const directory = importer.split('/').slice(0, -1);
  let rest = name.startsWith('./') ? name.slice(2) : name;
  while (rest.startsWith('../')) {
    if (directory.length === 0) return `(above the root: ${specifier} from ${importer})`;
    directory.pop();
    rest = rest.slice(3);
  }
  return posix.join(...directory, rest);
}

const graph = deviceModuleGraph({ entry: 'firmware/moddable/main.ts', platform: MODDABLE_STANDINS });

for (const platform of PLATFORMS) {
  const named = manifestModules(platform);
  const nameOfFile = new Map<string, string[]>();
  for (const [name, files] of named) for (const file of files) nameOfFile.set(file, [...(nameOfFile.get(file) ?? []), name]);

  /** The graph's modules by name: each file by its manifest name; a platform module by its specifier. */
  const graphNames = graph.map((m) => (m.file === undefined ? m.platform! : (nameOfFile.get(m.file) ?? [])[0] ?? `(unnamed: ${m.file})`));

  test(`${platform}: every module of the firmware graph has exactly one name in the manifest, and main is the one Moddable starts`, () => {
    const problems = graph.flatMap((m) => {
      if (m.file === undefined) return [];
      const names = nameOfFile.get(m.file) ?? [];
      return names.length === 1 ? [] : [`${m.file}: ${names.length === 0 ? 'no name' : `named ${names.join(', ')}`}`];
    });
    assert.deepEqual(problems, [], 'the manifest\'s "modules" must name each module of the graph once');
    assert.equal(manifest.creation?.main, graphNames[0], 'creation.main must name firmware/moddable/main.ts');
  });

  test(`${platform}: every import of the firmware graph resolves, as XS resolves it, to the module the graph imports`, () => {
    const wrong = graph.flatMap((m, i) => Object.entries(m.requires).flatMap(([specifier, target]) => {
      const resolved = xsResolve(graphNames[i]!, specifier);
      return resolved === graphNames[target] ? [] : [`${graphNames[i]} imports ${specifier}: XS looks for ${resolved}, the module is ${graphNames[target]}`];
    }));
    assert.deepEqual(wrong, []);
  });

  test(`${platform}: the manifest preloads every module of the firmware graph it builds, and nothing else`, () => {
    // Moddable's own modules (timer, file, …) come with their manifests and their own preload choices.
    const ours = [...new Set(graphNames.filter((name) => named.has(name)))].sort();
    const preload = [...(manifest.preload ?? []), ...(manifest.platforms?.[platform]?.preload ?? [])];
    assert.deepEqual(preload.filter((name, i) => preload.indexOf(name) !== i), [], 'preloaded twice');
    const missing = ours.filter((name) => !preload.includes(name));
    const extra = preload.filter((name) => !ours.includes(name));
    assert.deepEqual(missing, [], `modules of the firmware graph not preloaded; add to "preload" in firmware/moddable/manifest.json:\n${JSON.stringify(missing, null, '\t')}`);
    assert.deepEqual(extra, [], 'preload entries that name no module of the firmware graph (a wildcard matches JavaScript files only)');
    assert.ok(ours.includes('signer/bytes') && ours.includes('@noble/hashes/sha2') && ours.includes('hardware-random'), 'the graph holds our code, the packages and our native module');
  });

  test(`${platform}: the manifest names no module outside the firmware graph (the archive holds the graph only)`, () => {
    const stray = [...named.keys()].filter((name) => !graphNames.includes(name));
    assert.deepEqual(stray, [], 'modules built into the firmware that it never imports (a test file would also fail mcconfig\'s tsc step)');
  });
}

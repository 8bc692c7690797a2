/**
 * The code the device runs (signer/, core/, projections/, the journal format and its file port
 * in log/, firmware/app)
 * must not use Node-only APIs (docs/design.md): no Buffer, node:*, process, global crypto, btoa.
 * Tests beside the modules may; they never ship to the device.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import test from 'node:test';
import { repoRoot } from './fixtures.js';

const DEVICE_DIRS = ['signer', 'core', 'projections', 'log/journal', 'log/file-port.ts', 'log/memory-file.ts', 'log/broker-log/record.ts', 'firmware/app'];
const FORBIDDEN: ReadonlyArray<[RegExp, string]> = [
  [/\bBuffer\b/, 'Buffer'],
  [/from\s+['"]node:/, 'a node: import'],
  [/\bprocess\./, 'process'],
  [/\bglobalThis\b[^;]*\.crypto\b|\bcrypto\.(getRandomValues|subtle|randomUUID)\b/, 'global crypto'],
  [/\bbtoa\(|\batob\(/, 'btoa/atob'],
];

/** Deliberate uses, each with its reason. */
const ALLOWED: ReadonlyArray<[string, string]> = [
  // Web Crypto as the RNG port for hosts that have it, read at call time; the device passes its own.
  ['signer/crypto/random.ts', 'global crypto'],
];

function* sources(dir: string): Generator<string> {
  if (!statSync(dir).isDirectory()) {
    yield dir;
    return;
  }
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sources(path);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) yield path;
  }
}

test('device code uses no Node-only API', () => {
  const findings: string[] = [];
  for (const dir of DEVICE_DIRS) {
    for (const file of sources(join(repoRoot, dir))) {
      // Comments may name what the code avoids.
      const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      for (const [pattern, what] of FORBIDDEN)
        if (pattern.test(code) && !ALLOWED.some(([f, w]) => f === relative(repoRoot, file) && w === what))
          findings.push(`${relative(repoRoot, file)} uses ${what}`);
    }
  }
  assert.deepEqual(findings, []);
});

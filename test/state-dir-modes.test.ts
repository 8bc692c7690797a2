/**
 * SPHINX_DATA_DIR holds derive_secret outputs (broker log, journal): a real bin/sphinx-hsmd in
 * remote mode (LevelDB broker log, broker-id, used tokens, status page URL) creates it 0700
 * with every file 0600 and every directory 0700, LevelDB's own files included, and tightens
 * an existing directory that was left open to others.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { fixturePath } from './fixtures.js';
import { freePort } from './remote-helpers.js';
import { loadTranscript } from './transcript.js';

const { header, exchanges } = loadTranscript(fixturePath('transcripts/session-basic-l1.jsonl'));

/** Every path under `dir` (itself included) whose permission bits are not `dirs`/`files`. */
function looser(dir: string): string[] {
  const found: string[] = [];
  const walk = (path: string): void => {
    const s = statSync(path);
    const mode = s.mode & 0o777;
    if (s.isDirectory()) {
      if (mode !== 0o700) found.push(`${path} ${mode.toString(8)}`);
      for (const name of readdirSync(path)) walk(join(path, name));
    } else if (mode !== 0o600) {
      found.push(`${path} ${mode.toString(8)}`);
    }
  };
  walk(dir);
  return found;
}

for (const existing of [false, true]) {
  test(`remote mode: SPHINX_DATA_DIR ${existing ? 'left 0755 by someone is tightened' : 'is created'} 0700, every file in it 0600`, async (t) => {
    const parent = mkdtempSync(join(tmpdir(), 'sphinx-modes-'));
    t.after(() => rmSync(parent, { recursive: true, force: true }));
    const dataDir = join(parent, 'state');
    if (existing) mkdirSync(dataDir, { mode: 0o755 });
    const ld = await SimLightningd.start({
      hsmSecret: Buffer.from(header.hsm_secret, 'hex'),
      args: header.hsmd_args,
      env: { SPHINX_SIGNER: 'remote', SPHINX_DATA_DIR: dataDir, SPHINX_MQTT_PORT: String(await freePort()), SPHINX_HTTP_PORT: String(await freePort()) },
    });
    try {
      ld.master.send(exchanges[0]!.req); // hsmd_init: the broker opens its log and MQTT server
      const deadline = Date.now() + 10_000;
      while (!['broker-log/CURRENT', 'broker-id', 'status-url'].every((f) => existsSync(join(dataDir, f)))) {
        assert.ok(Date.now() < deadline, `the broker's files did not appear in ${dataDir}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(looser(dataDir), []);
    } finally {
      ld.cleanup();
    }
  });
}

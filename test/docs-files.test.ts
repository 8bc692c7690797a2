/**
 * The data directories' files as docs/ lists them are the ones the code names: docs/journal.md
 * "Files" (a device's directory, and the local signer's) and docs/broker-log.md "Files" (the
 * broker's SPHINX_DATA_DIR), each file once, none missing and none extra; the `tls/` row names
 * the files the broker really generates there.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import test from 'node:test';
import { BROKER_ID_FILE, PINNED_DEVICES_FILE, USED_TOKENS_FILE } from '../broker/remote/identity.js';
import { MQTT_URL_FILE } from '../broker/remote/mqtt-server.js';
import { ensureTlsFiles, tlsDir } from '../broker/remote/tls-files.js';
import { STATUS_URL_FILE } from '../broker/status-page.js';
import { OWNER_KEY_FILE, POLICY_FILE } from '../firmware/app/control.js';
import { MIRROR_ANCHOR_FILES } from '../firmware/app/mirror.js';
import { RETIRED_FILE } from '../firmware/app/retired.js';
import { brokerLogDir } from '../log/broker-log/broker-log.js';
import { BROKER_LOG_MARKER } from '../log/broker-log/log-dir.js';
import { MIRROR_MARKER, mirrorDir } from '../log/broker-log/mirror-db.js';
import { JOURNAL_FILE, SNAPSHOT_FILES } from '../log/journal/journal.js';
import { LOCK_FILE } from '../node/dir-lock.js';
import { repoRoot } from './fixtures.js';

/** The first cells (their code spans) of the table under `## Files` in docs/<doc>. */
function filesTable(doc: string): Map<string, string> {
  const text = readFileSync(join(repoRoot, 'docs', doc), 'utf8');
  const section = text.slice(text.indexOf('\n## Files\n'));
  assert.ok(section.length > 0, `docs/${doc} has "Files"`);
  const rows = new Map<string, string>();
  for (const line of section.slice(section.indexOf('| file |')).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const [name, content] = line.slice(1, -1).split(' | ');
    for (const [, file] of name!.matchAll(/`([^`]+)`/g)) {
      assert.ok(!rows.has(file!), `docs/${doc}: ${file} listed once`);
      rows.set(file!, content!);
    }
  }
  return rows;
}

const dir = (path: string): string => `${basename(path)}/`;

test('docs/journal.md "Files" lists every file of a device\'s data directory, and no other', () => {
  const expected = [
    'hsm_secret', // CLN's own name (firmware/host/node-store.ts, firmware/moddable/sd-store.ts)
    JOURNAL_FILE, ...SNAPSHOT_FILES,
    'high-water-a', 'high-water-b', // log/journal/high-water.ts slotMark('high-water-{a,b}')
    ...MIRROR_ANCHOR_FILES, LOCK_FILE, RETIRED_FILE, OWNER_KEY_FILE, POLICY_FILE,
  ];
  assert.deepEqual([...filesTable('journal.md').keys()].sort(), expected.sort());
});

test('docs/broker-log.md "Files" lists every file of the broker\'s SPHINX_DATA_DIR, and no other', () => {
  const expected = [
    dir(brokerLogDir('/d')), BROKER_LOG_MARKER, dir(mirrorDir('/d')), MIRROR_MARKER, BROKER_ID_FILE, PINNED_DEVICES_FILE,
    USED_TOKENS_FILE, dir(tlsDir('/d')), MQTT_URL_FILE, STATUS_URL_FILE, LOCK_FILE,
  ];
  assert.deepEqual([...filesTable('broker-log.md').keys()].sort(), expected.sort());
});

test('docs/broker-log.md\'s tls/ row names the files SPHINX_TLS_GENERATE makes', (t) => {
  const data = mkdtempSync(join(tmpdir(), 'sphinx-tls-'));
  t.after(() => rmSync(data, { recursive: true, force: true }));
  ensureTlsFiles(data, ['localhost']);
  const made = readdirSync(tlsDir(data)).sort();
  const row = filesTable('broker-log.md').get(dir(tlsDir(data)))!;
  assert.deepEqual([...row.matchAll(/`([\w.]+\.(?:pem|key))`/g)].map((m) => m[1]).sort(), made);
});

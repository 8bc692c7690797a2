// Writes test/fixtures/chain/ from a recorded chain run (test/fixtures/chain/README.md):
//   node scripts/export-chain-fixtures.mjs RUN_DIR   (after npm run build)
// RUN_DIR holds regtest-chain.jsonl and l1/, l2/ (broker state and device directories).
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BrokerLog } from '../dist/log/broker-log/broker-log.js';
import { encodeReply } from '../dist/signer/event-codec.js';

const run = process.argv[2];
if (!run) throw new Error('usage: node scripts/export-chain-fixtures.mjs RUN_DIR');
const out = new URL('../test/fixtures/chain/', import.meta.url).pathname;
const hex = (b) => Buffer.from(b).toString('hex');

// Every raw block, as recorded (one {height, hash, hex} per line), gzipped.
writeFileSync(join(out, 'regtest-chain.jsonl.gz'), gzipSync(readFileSync(join(run, 'regtest-chain.jsonl')), { level: 9 }));

for (const node of ['l1', 'l2']) {
  // LevelDB needs a writable directory for its lock: read a copy.
  const copy = mkdtempSync(join(tmpdir(), 'chain-fixture-'));
  cpSync(join(run, node, 'sphinx', 'broker-log'), copy, { recursive: true });
  const log = await BrokerLog.open(copy);
  const requests = new Map();
  const lines = [];
  for await (const { record } of log.read()) {
    if (record.kind === 'request-received') requests.set(record.id, record);
    if (record.kind !== 'reply-received') continue;
    const q = requests.get(record.id);
    if (!q) continue;
    lines.push(JSON.stringify({
      id: String(q.id), at: q.at, peer: hex(q.client.peer), dbid: String(q.client.dbid), perms: String(q.client.permissions),
      req: hex(q.message), reply: hex(encodeReply(record.reply)),
    }));
  }
  await log.close();
  writeFileSync(join(out, `session-${node}.jsonl`), lines.join('\n') + '\n');
  writeFileSync(join(out, `hsm_secret-${node}`), readFileSync(join(run, node, 'device', 'hsm_secret')));
}

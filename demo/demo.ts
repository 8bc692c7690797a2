/**
 * `npm start`: the main job on embedded defaults. One machine plays every part:
 *
 *   simulated lightningd ──hsmd protocol (fd 0, fd 3, client fds over SCM_RIGHTS)──▶
 *   bin/sphinx-hsmd (remote: embedded MQTT server, LevelDB broker log) ──MQTT──▶
 *   bin/sphinx-signer (the device on Node: write-ahead journal, LED line; it waits for the
 *   broker id the broker writes at its first start)
 *
 * The script is a real one: what lightningd and its subdaemons asked CLN v25.12.1's own
 * hsmd in a recorded session (start, open a channel, pay both ways, withdraw, close), each
 * reply compared with CLN's. Prints progress, then requests by type with latencies, and
 * where the logs are for `sphinx-audit`.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { messageNameOf, messageType } from '../signer/wire/messages.js';
import { fixturePath } from '../test/fixtures.js';
import { freePort, startDeviceProcess } from '../test/remote-helpers.js';
import { SimLightningd } from './sim-lightningd.js';
import { loadTranscript, type Exchange } from '../test/transcript.js';

const SESSION = 'session-basic-l1.jsonl';

interface TypeStats {
  count: number;
  matched: number;
  micros: number[];
}

const typeName = (ex: Exchange): string => {
  const type = parseInt(ex.req.slice(0, 4), 16);
  return (messageNameOf(type) ?? `type ${type}`).replace(/^hsmd_/, '');
};

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

function printSummary(stats: Map<string, TypeStats>): void {
  console.log('\nrequests by type                        count  identical   p50 ms   p99 ms');
  for (const [name, s] of [...stats].sort((a, b) => b[1].count - a[1].count)) {
    const sorted = [...s.micros].sort((a, b) => a - b);
    const ms = (us: number): string => (us / 1000).toFixed(2).padStart(8);
    console.log(
      `  ${name.padEnd(36)} ${String(s.count).padStart(6)} ${String(s.matched).padStart(10)} ${ms(percentile(sorted, 50))} ${ms(percentile(sorted, 99))}`,
    );
  }
  const all = [...stats.values()].flatMap((s) => s.micros).sort((a, b) => a - b);
  console.log(`  ${'all'.padEnd(36)} ${String(all.length).padStart(6)} ${' '.repeat(10)} ${(percentile(all, 50) / 1000).toFixed(2).padStart(8)} ${(percentile(all, 99) / 1000).toFixed(2).padStart(8)}`);
  console.log("  (init's time includes the device starting and connecting: the broker holds it until a device is there)");
}

async function main(): Promise<void> {
  const path = fixturePath(`transcripts/${SESSION}`);
  const { header, exchanges } = loadTranscript(path);
  const work = mkdtempSync(join(tmpdir(), 'sphinx-demo-'));
  const brokerData = join(work, 'lightningd', 'sphinx');
  const deviceData = join(work, 'device');
  mkdirSync(deviceData, { recursive: true });
  const port = await freePort();

  console.log('sphinx-key: lightningd → sphinx-hsmd (broker) → MQTT → sphinx-signer (device)');
  console.log(`  broker: embedded MQTT on 127.0.0.1:${port}; the device waits for its id in ${join(brokerData, 'broker-id')}`);
  console.log(`  script: ${SESSION}, ${exchanges.length} requests lightningd sent to CLN ${header.cln_version}'s hsmd`);

  const device = startDeviceProcess({
    url: `mqtt://127.0.0.1:${port}`,
    brokerIdFile: join(brokerData, 'broker-id'),
    hsmSecret: Uint8Array.from(Buffer.from(header.hsm_secret, 'hex')),
    dir: deviceData,
  });
  const ld = await SimLightningd.start({
    hsmSecret: new Uint8Array(32), // lightningd's own copy is not used in remote mode
    args: header.hsmd_args,
    env: {
      SPHINX_SIGNER: 'remote',
      SPHINX_DATA_DIR: brokerData,
      SPHINX_MQTT_PORT: String(port),
      SPHINX_CLN_VERSION: header.cln_version,
    },
    timeoutMs: 60_000,
  });
  const stats = new Map<string, TypeStats>();
  let done = 0;
  let result;
  try {
    result = ld.replay(path, (ex, matched, micros) => {
      const name = typeName(ex);
      const entry = stats.get(name) ?? { count: 0, matched: 0, micros: [] };
      entry.count++;
      if (matched) entry.matched++;
      entry.micros.push(micros);
      stats.set(name, entry);
      done++;
      if (process.stdout.isTTY) process.stdout.write(`\r  ${done}/${exchanges.length} ${name}\x1b[K`);
      else if (done % 50 === 0 || done === exchanges.length) console.log(`  ${done}/${exchanges.length} requests answered`);
    });
    if (process.stdout.isTTY) process.stdout.write('\r\x1b[K');
  } finally {
    // The device first: stopped while the broker is up, its output ends without a lost connection.
    await device.stop();
    await ld.stop().catch(() => undefined);
    ld.cleanup();
  }

  printSummary(stats);
  console.log(`\n${result.passed}/${exchanges.length} replies byte-identical to Core Lightning's own hsmd.`);
  for (const m of result.mismatches.slice(0, 3)) console.log(`  ✗ seq ${m.seq} (${m.conn}, type ${m.type}): got ${m.got.slice(0, 80)}`);
  console.log(`\nlogs (kept): ${work}`);
  console.log(`  broker log (LevelDB):  ${join(brokerData, 'broker-log')}`);
  console.log(`  device journal:        ${join(deviceData, 'journal')}  (device output: ${join(deviceData, 'device.out')})`);
  console.log(`  audit them:            bin/sphinx-audit verify --log ${brokerData} --journal ${join(deviceData, 'journal')}`);
  const fdRequests = exchanges.filter((ex) => parseInt(ex.req.slice(0, 4), 16) === messageType('hsmd_client_hsmfd')).length;
  console.log(`  (the log holds ${exchanges.length - fdRequests} of the ${exchanges.length} requests: the broker answers lightningd's ` +
    `${fdRequests} hsmd_client_hsmfd itself, passing a socket, and does not log them)`);
  if (result.failed > 0) process.exitCode = 1;
}

await main();

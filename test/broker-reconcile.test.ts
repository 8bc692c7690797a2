/**
 * docs/broker-log.md "Reconciliation after a broker crash", through the real processes: a
 * simulated lightningd → bin/sphinx-hsmd (remote,
 * LevelDB broker log) → the device (test/crashing-device.ts) replays session-basic-l1; when
 * the device has journaled one chosen request, and before it publishes the reply, it SIGKILLs
 * the broker. The reply is then in the device's journal and not in the broker log, and
 * `sphinx-audit verify` says so (exit 1). lightningd and its broker start again; the device
 * says hello with that id. Afterwards `sphinx-audit verify --journal --hsm-secret` agrees
 * (exit 0). Two cases:
 * - the request's RequestReceived was durable: the broker has it answered again from the
 *   journal and logs the reply;
 * - it was not (test/hold-request-record.ts holds it in the killed broker): its bytes are
 *   lost, and the broker records the ids the device journaled beyond its log as
 *   unlogged-requests, which verify reports as explained notes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import { readJournal } from '../audit/inputs.js';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { Journal } from '../log/journal/journal.js';
import type { JournalRecord } from '../log/journal/record.js';
import { equal, fromHex } from '../signer/bytes.js';
import { fixturePath, repoRoot } from './fixtures.js';
import { freePort, readBrokerLog, startDeviceProcess } from './remote-helpers.js';
import { loadTranscript, replayExchanges } from './transcript.js';

const AUDIT_BIN = join(repoRoot, 'bin', 'sphinx-audit');
const { header, exchanges } = loadTranscript(fixturePath('transcripts/session-basic-l1.jsonl'));
/**
 * The chosen request: lightningd's (master) request after the first 60 exchanges, not
 * client_hsmfd (the broker answers that itself), and sent for the first time (the device's
 * hook knows it by its bytes).
 */
const VICTIM = exchanges.findIndex((ex, i) => i >= 60 && ex.conn === 'master' && !ex.req.startsWith('0009') && !exchanges.slice(0, i).some((e) => e.req === ex.req));

const journaled = (dir: string) => Journal.open(readJournal(dir).files).recovery.records.map((r) => r.record);

function audit(dataDir: string, deviceDir: string, secretFile: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [AUDIT_BIN, 'verify', '--log', dataDir, '--journal', deviceDir, '--hsm-secret', secretFile], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

interface Crashed {
  readonly dataDir: string;
  readonly secretFile: string;
  readonly device: ReturnType<typeof startDeviceProcess>;
  /** The device's journal record of the victim. */
  readonly record: JournalRecord;
  /** lightningd and its broker started again, the device reconnecting by itself, init answered as recorded. */
  restart(): Promise<SimLightningd>;
}

/**
 * Replays the session up to the victim, which the device journals and then SIGKILLs the
 * broker; `holdRecord`: the killed broker held the victim's RequestReceived (and every later
 * record) back, so it was not durable when it died.
 */
async function crashAtVictim(t: { after: (f: () => unknown) => void }, holdRecord: boolean): Promise<Crashed> {
  const root = mkdtempSync(join(tmpdir(), 'sphinx-reconcile-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dataDir = join(root, 'broker');
  const secretFile = join(root, 'hsm_secret');
  writeFileSync(secretFile, fromHex(header.hsm_secret));
  const port = await freePort();
  const env = { SPHINX_SIGNER: 'remote', SPHINX_DATA_DIR: dataDir, SPHINX_MQTT_PORT: String(port), SPHINX_CLN_VERSION: header.cln_version };
  const victim = exchanges[VICTIM]!;
  const hold = holdRecord
    ? { NODE_OPTIONS: `--import=${pathToFileURL(join(repoRoot, 'dist', 'test', 'hold-request-record.js')).href}`, HOLD_REQUEST_RECORD_OF: victim.req }
    : {};
  const start = (more = {}) => SimLightningd.start({ hsmSecret: fromHex(header.hsm_secret), args: header.hsmd_args, env: { ...env, ...more } });

  const ld = await start(hold);
  t.after(() => ld.cleanup());
  const device = startDeviceProcess({
    url: `mqtt://127.0.0.1:${port}`, dir: join(root, 'device'), brokerIdFile: join(dataDir, 'broker-id'), hsmSecret: fromHex(header.hsm_secret),
    crash: ['--kill-after-journal-of', victim.req, '--kill-pid', String(ld.child.pid)],
  });
  t.after(() => device.stop());
  const before = replayExchanges(ld, exchanges.slice(0, VICTIM));
  assert.equal(before.failed, 0, JSON.stringify(before.mismatches));
  ld.master.send(victim.req);
  assert.equal((await ld.exited(20_000)).signal, 'SIGKILL', 'the device killed the broker');
  const killedLine = /killed pid \d+ \(SIGKILL\) after journaling request id \d+/;
  assert.match(await device.outputMatching(killedLine, 5_000), killedLine);
  ld.cleanup();
  const record = journaled(device.dir).find((r) => equal(r.requestDigest, sha256(fromHex(victim.req))));
  assert.ok(record, 'the device journaled the request');
  return {
    dataDir, secretFile, device, record,
    async restart() {
      const ld2 = await start();
      t.after(() => ld2.cleanup());
      const again = replayExchanges(ld2, exchanges.slice(0, 1));
      assert.equal(again.failed, 0, `init answered as recorded: ${JSON.stringify(again.mismatches)}`);
      return ld2;
    },
  };
}

test('a broker SIGKILLed after the device journaled a reply, before it logged it: the restarted broker logs the journaled reply; verify agrees', async (t) => {
  const { dataDir, secretFile, device, record, restart } = await crashAtVictim(t, false);

  // What the crash left: the reply journaled by the device, not in the broker log.
  const logged = await readBrokerLog(dataDir);
  assert.ok(logged.some((r) => r.record.kind === 'request-received' && r.record.id === record.id), 'the broker logged the request');
  assert.ok(!logged.some((r) => r.record.kind === 'reply-received' && r.record.id === record.id), 'but not its reply');
  const mismatch = audit(dataDir, device.dir, secretFile);
  assert.equal(mismatch.status, 1, mismatch.out);
  assert.match(mismatch.out, new RegExp(`id ${record.id}, \\w+, journal offset \\d+: the device answered this request \\(journal record\\) but the broker never logged the reply`));

  const ld2 = await restart();
  await ld2.waitForStatus((m) => m.kind === 'log' && new RegExp(`request ${record.id}: the device.s journaled reply logged`).test(m.entry), 20_000);
  await ld2.stop();
  await device.stop();

  const reconciled = (await readBrokerLog(dataDir)).find((r) => r.record.kind === 'reply-received' && r.record.id === record.id);
  assert.deepEqual(reconciled?.record.kind === 'reply-received' && reconciled.record.reply, record.reply, 'the logged reply is the journaled one');
  const agreed = audit(dataDir, device.dir, secretFile);
  assert.equal(agreed.status, 0, agreed.out);
});

test('a broker SIGKILLed before the request it published was logged, after the device journaled it: the restarted broker records it as unlogged; verify explains it', async (t) => {
  const { dataDir, secretFile, device, record, restart } = await crashAtVictim(t, true);

  // What the crash left: the request decided and journaled by the device, absent from the broker log.
  const logged = await readBrokerLog(dataDir);
  const lastLogged = logged.reduce((m, r) => (r.record.kind === 'request-received' && r.record.id > m ? r.record.id : m), 0n);
  assert.ok(lastLogged > 0n && lastLogged < record.id, `the log's last request id ${lastLogged} is below the journaled ${record.id}`);
  const mismatch = audit(dataDir, device.dir, secretFile);
  assert.equal(mismatch.status, 1, mismatch.out);
  assert.match(mismatch.out, new RegExp(`id ${record.id}, journal offset \\d+: journal record with no logged request or reply`));

  const ld2 = await restart();
  await ld2.waitForStatus((m) => m.kind === 'log' && new RegExp(`journaled ids ${lastLogged + 1n}\\.\\.${record.id}, above the broker log's last id ${lastLogged}`).test(m.entry), 20_000);
  await ld2.stop();
  await device.stop();

  const explained = (await readBrokerLog(dataDir)).filter((r) => r.record.kind === 'unlogged-requests').map((r) => r.record);
  assert.deepEqual(explained.map((r) => r.kind === 'unlogged-requests' && [r.afterId, r.throughId]), [[lastLogged, record.id]]);
  const agreed = audit(dataDir, device.dir, secretFile);
  assert.equal(agreed.status, 0, agreed.out);
  assert.match(agreed.out, new RegExp(`note: id ${record.id}, journal offset \\d+: decided by the device \\(${record.reply.kind} reply\\) but never logged: explained by the unlogged-requests record at seq \\d+`));
});

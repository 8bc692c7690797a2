/**
 * bin/sphinx-signer as a real process over a real MQTT server (aedes on TCP) with its
 * journal on disk, driven as docs/remote-protocol.md's broker drives a device, with
 * session-basic-l1 (CLN v25.12.1's recorded hsmd replies):
 * - all requests in flight at once: every reply byte-identical to CLN's; an undecodable
 *   payload is logged and blinked, nothing else changes;
 * - duplicates and reordered redeliveries get the first reply byte for byte, and the
 *   journal does not grow;
 * - SIGTERM: "offline" retained, exit 0; the journal holds each id once;
 * - SIGKILL twice mid-replay, restarted: hello's lastId covers every reply seen; the init
 *   the broker sends first after hello (its journaled id) unlocks the keys again; the
 *   resends are answered, every reply identical, each id journaled once;
 * - the server drops the connection, and later goes away for a while: the same process
 *   reconnects (new hello) and answers the rest;
 * - no hsm_secret: exit 1 with how to copy or create one;
 * - its journal deleted after a session (the high-water mark files kept): exit 1 naming the
 *   mark and the way out, nothing answered (so no revoked commitment signed); with
 *   --accept-journal-rollback it starts from the empty journal;
 * - its journal cut at a record boundary, or put back from an older copy: the same refusal
 *   (the mark is above the journal's last id), nothing answered; the right journal lets it back;
 * - the log: LED changes only, a timestamp on every line, --log-level, --version.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { toHex } from '../signer/bytes.js';
import { decodeReplyEnvelope } from '../signer/remote/envelope-codec.js';
import { JOURNAL_FILE, Journal, SNAPSHOT_FILES, openJournalFiles } from '../log/journal/journal.js';
import { NodeDir } from '../node/node-file.js';
import { BROKER_ID, BrokerStandIn, MqttServer, SignerProcess, dataDirWith, deviceIdOf } from './device-driver.js';
import { fixturePath, repoRoot } from './fixtures.js';
import { sessionRequests, type SessionRequest } from './session-records.js';
import { loadTranscript } from './transcript.js';

const NAME = 'session-basic-l1.jsonl';
const requests = sessionRequests(NAME);
const secret = (() => {
  const hex = loadTranscript(fixturePath(`transcripts/${NAME}`)).header.hsm_secret;
  return Uint8Array.from(hex.match(/../g)!.map((b) => parseInt(b, 16)));
})();
const deviceId = deviceIdOf(secret);

/** The recorded reply as the device's reply envelope carries it. */
function assertRecorded(broker: BrokerStandIn, r: SessionRequest): void {
  const payloads = broker.replies.get(r.envelope.id);
  assert.ok(payloads?.length, `id ${r.envelope.id} answered`);
  const { reply } = decodeReplyEnvelope(payloads[0]!);
  const got = reply.kind === 'frame' ? toHex(reply.frame) : reply.kind === 'none' ? null : reply.kind;
  assert.equal(got, r.exchange.rep, `seq ${r.exchange.seq} (id ${r.envelope.id})`);
  for (const again of payloads.slice(1)) assert.equal(toHex(again), toHex(payloads[0]!), `id ${r.envelope.id}: a repeated reply is identical`);
}

/** The ids journaled in `dir`, in order. */
function journaledIds(dir: string): bigint[] {
  const { recovery } = Journal.open(openJournalFiles(new NodeDir(dir)));
  return recovery.records.map((s) => s.record.id);
}

const allIds = requests.map((r) => r.envelope.id);

async function sendAll(broker: BrokerStandIn, list: readonly SessionRequest[]): Promise<void> {
  for (const r of list) await broker.send(r.envelope);
}

test('replay over MQTT: byte-identical replies; garbage, duplicates and reorders change nothing; SIGTERM exits 0', async (t) => {
  const server = await MqttServer.start();
  const dir = dataDirWith(secret, t);
  const broker = await BrokerStandIn.connect(server.url, deviceId);
  const signer = SignerProcess.start(dir, server.url);
  try {
    await broker.until(() => broker.hellos.length === 1, 'hello');
    assert.deepEqual(broker.hellos[0]!.lastId, '0');
    assert.match(broker.hellos[0]!.firmware, /^sphinx-signer\//);
    assert.equal(broker.statuses.at(-1), 'online');

    await broker.sendRaw(Uint8Array.of(1, 2, 3));
    // All in flight at once; QoS 1 keeps their order.
    await Promise.all(requests.map((r) => broker.send(r.envelope)));
    await broker.until(() => broker.answered === requests.length, 'every reply');
    for (const r of requests) assertRecorded(broker, r);
    assert.match(signer.stderr, /dropped a request payload of 3 bytes that does not decode/);
    assert.match(signer.stdout, /LED blink error/);

    const journalBefore = readFileSync(join(dir, 'journal'));
    // Redeliveries out of order, some twice: a fixed shuffle of every 5th request.
    const again = requests.filter((_, i) => i % 5 === 0);
    const shuffled = [...again].sort((a, b) => Number((a.envelope.id * 7919n) % 101n) - Number((b.envelope.id * 7919n) % 101n));
    await sendAll(broker, [...shuffled, ...shuffled.slice(0, 10)]);
    const expectedCount = (r: SessionRequest) => 2 + (shuffled.slice(0, 10).includes(r) ? 1 : 0);
    await broker.until(() => again.every((r) => broker.replies.get(r.envelope.id)!.length === expectedCount(r)), 'the redelivered replies');
    for (const r of requests) assertRecorded(broker, r);
    assert.deepEqual(readFileSync(join(dir, 'journal')), journalBefore, 'no second journal record');

    signer.child.kill('SIGTERM');
    assert.deepEqual(await signer.exited, { code: 0, signal: null });
    await broker.until(() => broker.statuses.at(-1) === 'offline', 'status offline');
    assert.match(signer.stderr, /stopping \(SIGTERM\)[\s\S]*stopped: MQTT closed/);
    assert.deepEqual(journaledIds(dir), allIds);
    // A quiet log: the light's changes only (not the blue flash of each request), every line stamped.
    const ledLines = signer.stdout.split('\n').filter((l) => l !== '');
    // (The garbage may arrive before the device has turned green: the blink's place varies.)
    const leds = ledLines.map((l) => l.replace(/^\S+ /, ''));
    assert.deepEqual(leds.filter((l) => !l.startsWith('LED blink')), ['LED * booting (white)', 'LED * connecting (amber, blinking)', 'LED * ready (green)']);
    assert.deepEqual(leds.filter((l) => l.startsWith('LED blink')), ['LED blink error (red)']);
    for (const line of [...ledLines, ...signer.stderr.split('\n').filter((l) => l !== '')])
      assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /, 'a timestamp first');
  } finally {
    signer.child.kill('SIGKILL');
    await broker.close();
    await server.close();
  }
});

test('SIGKILL mid-replay, twice, and restart: every request answered, replies identical, each id journaled once', async (t) => {
  const server = await MqttServer.start();
  const dir = dataDirWith(secret, t);
  const broker = await BrokerStandIn.connect(server.url, deviceId);
  // docs/remote-protocol.md: on hello the broker sends lightningd's init first (same id),
  // then resends what is still outstanding.
  let resending = Promise.resolve();
  broker.onHello = () => {
    const list = [requests[0]!, ...requests.filter((r) => !broker.replies.has(r.envelope.id))];
    resending = resending.then(() => sendAll(broker, list));
  };
  let signer = SignerProcess.start(dir, server.url);
  try {
    for (const killAt of [60, 130]) {
      await broker.until(() => broker.answered >= killAt, `${killAt} replies`);
      signer.child.kill('SIGKILL');
      assert.equal((await signer.exited).signal, 'SIGKILL');
      const seen = broker.answered;
      const hellos = broker.hellos.length;
      signer = SignerProcess.start(dir, server.url);
      await broker.until(() => broker.hellos.length > hellos, 'hello after restart');
      // Write-ahead: a reply left only after its record was durable.
      assert.ok(BigInt(broker.hellos.at(-1)!.lastId) >= BigInt(seen), `hello lastId ${broker.hellos.at(-1)!.lastId} covers the ${seen} replies seen`);
      await broker.until(() => /hsmd_init again after a restart; keys unlocked/.test(signer.stderr), 'keys unlocked by the resent init');
    }
    await broker.until(() => broker.answered === requests.length, 'every reply');
    await resending;
    for (const r of requests) assertRecorded(broker, r);
    signer.child.kill('SIGTERM');
    assert.equal((await signer.exited).code, 0);
    assert.deepEqual(journaledIds(dir), allIds);
  } finally {
    signer.child.kill('SIGKILL');
    await broker.close();
    await server.close();
  }
});

test('the server drops the connection, then goes away for a while: the same process reconnects and answers', async (t) => {
  const server = await MqttServer.start();
  const dir = dataDirWith(secret, t);
  const broker = await BrokerStandIn.connect(server.url, deviceId);
  const signer = SignerProcess.start(dir, server.url);
  let exited = false;
  void signer.exited.then(() => (exited = true));
  try {
    await broker.until(() => broker.hellos.length === 1, 'hello');
    await sendAll(broker, requests.slice(0, 50));
    await broker.until(() => broker.answered === 50, '50 replies');

    server.dropConnections();
    await broker.until(() => broker.hellos.length === 2, 'hello after the drop');
    assert.equal(broker.hellos[1]!.lastId, '50');
    await sendAll(broker, requests.slice(50, 100));
    await broker.until(() => broker.answered === 100, '100 replies');

    await server.stopListening();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await server.listen();
    await broker.until(() => broker.hellos.length === 3, 'hello after the server came back', 60_000);
    assert.match(signer.stderr, /cannot reach the MQTT server .* retrying in/);
    await sendAll(broker, requests.slice(100));
    await broker.until(() => broker.answered === requests.length, 'every reply');
    for (const r of requests) assertRecorded(broker, r);
    assert.equal(exited, false, 'no restart');
    assert.match(signer.stdout, /connecting[\s\S]*ready[\s\S]*connecting[\s\S]*ready/);
    signer.child.kill('SIGTERM');
    assert.equal((await signer.exited).code, 0);
  } finally {
    signer.child.kill('SIGKILL');
    await broker.close();
    await server.close();
  }
});

test('no hsm_secret: exit 1 saying how to copy or create one', async (t) => {
  const dir = dataDirWith(undefined, t);
  const signer = SignerProcess.start(dir, 'mqtt://127.0.0.1:1');
  assert.equal((await signer.exited).code, 1);
  assert.match(signer.stderr, /no hsm_secret in .*cp .*hsm_secret.*lightning-hsmtool generatehsm/);
  assert.match(signer.stdout, /LED \* error/);
});

test('a journal deleted behind the device\'s back: it refuses to start, says why and the way out; the flag lets it start', async (t) => {
  const server = await MqttServer.start();
  const dir = dataDirWith(secret, t);
  const broker = await BrokerStandIn.connect(server.url, deviceId);
  let signer = SignerProcess.start(dir, server.url);
  try {
    await broker.until(() => broker.hellos.length === 1, 'hello');
    await sendAll(broker, requests);
    await broker.until(() => broker.answered === requests.length, 'every reply');
    signer.child.kill('SIGTERM');
    assert.equal((await signer.exited).code, 0);
    assert.ok(readdirSync(dir).includes('high-water-a'), 'the mark is kept next to the journal');

    // The journal and its snapshots go (an SD card swapped, a restore gone wrong); the mark stays.
    for (const name of ['journal', 'snapshot-a', 'snapshot-b']) rmSync(join(dir, name));
    const before = broker.answered;
    signer = SignerProcess.start(dir, server.url);
    assert.equal((await signer.exited).code, 1);
    assert.match(signer.stderr, new RegExp(`the journal ends at request id 0 but replies up to id ${allIds.at(-1)} were sent from it ` +
      `\\(high-water mark in ${dir}/high-water-\\{a,b\\}\\).*Refusing to sign.*--accept-journal-rollback`));
    assert.match(signer.stdout, /LED \* error/);
    assert.equal(broker.hellos.length, 1, 'it never connected');
    assert.equal(broker.answered, before);

    signer = SignerProcess.start(dir, server.url, ['--accept-journal-rollback']);
    await broker.until(() => broker.hellos.length === 2, 'hello after the accepted rollback');
    assert.equal(broker.hellos[1]!.lastId, '0');
    assert.match(signer.stderr, /ACCEPTED by the operator: the mark comes down to 0/);
  } finally {
    signer.child.kill('SIGKILL');
    await broker.close();
    await server.close();
  }
});

/** Copies the journal and its snapshots (not the high-water mark) from `from` to `to`, replacing what `to` had. */
function copyJournal(from: string, to: string): void {
  for (const name of [JOURNAL_FILE, ...SNAPSHOT_FILES]) {
    rmSync(join(to, name), { force: true });
    if (existsSync(join(from, name))) cpSync(join(from, name), join(to, name));
  }
}

test('a journal cut at a record boundary, or put back from an older copy: it refuses to start naming the mark, answers nothing; the right journal lets it back', async (t) => {
  const server = await MqttServer.start();
  const dir = dataDirWith(secret, t);
  const copies = mkdtempSync(join(tmpdir(), 'sphinx-journal-copies-'));
  t.after(() => rmSync(copies, { recursive: true, force: true }));
  const [older, full] = [join(copies, 'older'), join(copies, 'full')];
  const broker = await BrokerStandIn.connect(server.url, deviceId);
  const first = requests.slice(0, 60);
  let signer = SignerProcess.start(dir, server.url);
  const stop = async (): Promise<void> => {
    signer.child.kill('SIGTERM');
    assert.equal((await signer.exited).code, 0, signer.stderr);
  };
  const refused = async (what: string, lastId: bigint): Promise<void> => {
    const before = { hellos: broker.hellos.length, answered: broker.answered };
    signer = SignerProcess.start(dir, server.url);
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([signer.exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), 20_000)))]);
    clearTimeout(timer);
    assert.ok(exit, `${what}: the device still runs after 20 s instead of refusing its journal:\n${signer.stderr}`);
    assert.equal(exit.code, 1, `${what}: ${signer.stderr}`);
    assert.match(signer.stderr, new RegExp(`the journal ends at request id ${lastId} but replies up to id ${allIds.at(-1)} were sent from it ` +
      `\\(high-water mark in ${dir}/high-water-\\{a,b\\}\\).*Refusing to sign`), what);
    assert.deepEqual({ hellos: broker.hellos.length, answered: broker.answered }, before, `${what}: it never connected`);
  };
  try {
    await broker.until(() => broker.hellos.length === 1, 'hello');
    await sendAll(broker, first);
    await broker.until(() => broker.answered === first.length, 'the first replies');
    await stop();
    copyJournal(dir, older);
    signer = SignerProcess.start(dir, server.url);
    await broker.until(() => broker.hellos.length === 2, 'hello after the restart');
    // As the broker does after a hello: lightningd's init again (its id), which unlocks the keys, then the rest.
    await sendAll(broker, [requests[0]!, ...requests.slice(first.length)]);
    await broker.until(() => broker.answered === requests.length, 'every reply');
    await stop();
    copyJournal(dir, full);

    // Cut where the last record starts: a whole record gone, nothing torn.
    const { recovery } = Journal.open(openJournalFiles(new NodeDir(dir)));
    const [beforeLast, last] = recovery.records.slice(-2);
    assert.equal(last!.record.id, allIds.at(-1));
    truncateSync(join(dir, JOURNAL_FILE), last!.offset);
    await refused('cut at a record boundary', beforeLast!.record.id);

    copyJournal(older, dir);
    await refused('an older copy', first.at(-1)!.envelope.id);

    copyJournal(full, dir);
    signer = SignerProcess.start(dir, server.url);
    await broker.until(() => broker.hellos.length === 3, 'hello with the right journal');
    assert.equal(broker.hellos[2]!.lastId, String(allIds.at(-1)));
    await stop();
  } finally {
    signer.child.kill('SIGKILL');
    await broker.close();
    await server.close();
  }
});

test('--log-level unusual leaves out the info lines; --version; a bad level is refused naming the choices', async (t) => {
  const server = await MqttServer.start();
  const broker = await BrokerStandIn.connect(server.url, deviceId);
  const signer = SignerProcess.start(dataDirWith(secret, t), server.url, ['--log-level', 'unusual']);
  try {
    await broker.until(() => broker.hellos.length === 1, 'hello');
    signer.child.kill('SIGTERM');
    assert.equal((await signer.exited).code, 0);
    assert.doesNotMatch(signer.stderr, / INFO /);
  } finally {
    signer.child.kill('SIGKILL');
    await broker.close();
    await server.close();
  }
  const bin = join(repoRoot, 'bin', 'sphinx-signer');
  const version = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
  assert.equal(version.status, 0);
  // As sphinx-audit and sphinx-ctl print theirs: "<bin> <version>".
  assert.equal(version.stdout, `sphinx-signer ${JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version}\n`);
  const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' }).stdout;
  assert.match(help, /--data DIR .*\n.*policy\.json .*\n.*owner\.pub/);
  const bad = spawnSync(process.execPath, [bin, '--log-level', 'chatty'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--log-level chatty: expected one of info, unusual, broken/);
});

test('setup mistakes name the flag and what to give, exit 1 without a stack trace or a wait', (t) => {
  const dir = dataDirWith(secret, t);
  const bin = join(repoRoot, 'bin', 'sphinx-signer');
  const run = (args: readonly string[]) => spawnSync(process.execPath, [bin, '--data', dir, ...args], { encoding: 'utf8', timeout: 20_000 });
  const local = ['--mqtt', 'mqtt://127.0.0.1:1', '--broker-id', BROKER_ID];
  const junk = join(dir, 'junk-id');
  writeFileSync(junk, 'not an id\n');
  const seedIsDir = dataDirWith(undefined, t);
  mkdirSync(join(seedIsDir, 'hsm_secret'));
  const noSeed = dataDirWith(undefined, t);
  for (const [args, message] of [
    [['--mqtt', 'mqtts://127.0.0.1:1', '--broker-id', BROKER_ID, '--ca', dir], /^sphinx-signer: --ca .*: cannot read it \(EISDIR\)\n$/],
    [[...local, '--passphrase-file', join(dir, 'none')], /^sphinx-signer: --passphrase-file .*none: cannot read it \(ENOENT\)\n$/],
    [[...local, '--mqtt-password-file', join(dir, 'none')], /^sphinx-signer: --mqtt-password-file .*none: cannot read it \(ENOENT\)\n$/],
    [['--mqtt', 'mqtt://127.0.0.1:1', '--broker-id', 'zz'], /^sphinx-signer: --broker-id zz is not a broker id \(32 hex digits\): copy the one sphinx-hsmd prints/],
    [['--mqtt', 'mqtt://127.0.0.1:1', '--broker-id-file', junk], /junk-id holds "not an id", not a broker id \(32 hex digits\)/],
    // Before waiting for a broker id file that sphinx-hsmd has not written yet.
    [['--mqtt', 'mqtt://127.0.0.1:1', '--broker-id-file', join(dir, 'none'), '--restore', '--spare'], /^sphinx-signer: give at most one of --restore and --spare/],
    [['--mqtt', 'mqtt://127.0.0.1:1', '--broker-id-file', join(dir, 'none'), '--accept-mirror-behind', '7'], /^sphinx-signer: --accept-mirror-behind is for --restore or --spare/],
    [['--mqtt', 'mqtt://127.0.0.1:1', '--broker-id-file', join(dir, 'none'), '--restore', '--accept-mirror-behind', 'x7'], /^sphinx-signer: --accept-mirror-behind x7: expected the request id the refusal names/],
    [['--mqtt', 'mqtt://10.0.0.1:1883', '--broker-id', BROKER_ID], /or allow plain MQTT explicitly \(sphinx-signer --allow-plain;/],
    [[...local, '--data', junk], /^sphinx-signer: --data .*junk-id: cannot use it as the data directory \(EEXIST\): give a directory/],
    [[...local, '--data', seedIsDir], /^sphinx-signer: cannot read .*hsm_secret \(EISDIR\): it must be the node's seed/m],
    // A spare or a restore needs the node's own seed: no advice to create a new one.
    [[...local, '--data', noSeed, '--spare'], /^sphinx-signer: no hsm_secret in .*cp .*hsm_secret; --spare needs that same seed, byte for byte[^\n]*\n$/m],
  ] as const) {
    const r = run(args);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n +at /, 'no stack trace');
  }
  const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' }).stdout;
  assert.match(help, /^usage: sphinx-signer [^\n]*\n[^\n]*\n +\[--accept-journal-rollback\] \[--accept-mirror-behind ID\]\n/);
  // Both may be given (the file must then have the fingerprint): not alternatives.
  assert.match(help, /^usage: [^\n]* \[--ca FILE\] \[--ca-fingerprint SHA256\]\n/);
  assert.match(help, /--ca-fingerprint SHA256 .*\n.*with --ca, FILE must have it too/);
});

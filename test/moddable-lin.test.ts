/**
 * The Moddable lane (docs/device-memory.md, "Built by mcconfig"): when MODDABLE names a
 * Moddable SDK whose Linux tools are built ($MODDABLE/build/bin/lin/release), mcconfig builds
 * firmware/moddable/manifest.json as it is, every module preloaded, for its Linux host (`-p lin`,
 * the firmware's own modules with the lin stand-ins of firmware/moddable/lin). The built
 * firmware, run by the SDK's simulator under Xvfb, boots from a directory standing in for the
 * SD card, sets its clock from an SNTP server on loopback, and answers session-basic-l1 byte
 * for byte: to a broker stand-in on an MQTT server on loopback, then behind the real
 * bin/sphinx-hsmd driven as lightningd drives it, its journal mirrored to the broker (audited
 * afterwards with bin/sphinx-audit). Without the SDK these tests do not apply and say so.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type TestContext } from 'node:test';
import { ensureTlsFiles } from '../broker/remote/tls-files.js';
import { toHex } from '../signer/bytes.js';
import { decodeReplyEnvelope } from '../signer/remote/envelope-codec.js';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { BROKER_ID, BrokerStandIn, MqttServer, dataDirWith, deviceIdOf } from './device-driver.js';
import { fixturePath, repoRoot } from './fixtures.js';
import { freePort } from './remote-helpers.js';
import { sessionRequests } from './session-records.js';
import { loadTranscript, replayExchanges } from './transcript.js';

const MODDABLE = process.env.MODDABLE;
const TOOLS = MODDABLE === undefined ? undefined : join(MODDABLE, 'build', 'bin', 'lin', 'release');
const NO_SDK = MODDABLE === undefined
  ? 'MODDABLE is not set: build the Moddable SDK 8.2.3 tools for Linux outside the repository (docs/device-memory.md "Built by mcconfig")'
  : !existsSync(join(TOOLS!, 'mcconfig')) ? `no ${join(TOOLS!, 'mcconfig')}: build the SDK's Linux tools first` : undefined;
const XSBUG_LOG = MODDABLE === undefined ? '' : join(MODDABLE, 'tools', 'xsbug-log');
const FIRMWARE = join(repoRoot, 'firmware', 'moddable');
const NAME = 'session-basic-l1.jsonl';
const NVS_FILE = '/tmp/sphinx-key-modpreferences.json';

const work = NO_SDK === undefined ? mkdtempSync(join(tmpdir(), 'sphinx-moddable-')) : '';
const sdRoot = join(work, 'sd');
test.after(() => { if (work) rmSync(work, { recursive: true, force: true }); });

/** The simulator's shared library, once built. */
let built: string | undefined;

/** mcconfig -d -m -p lin on the manifest in `directory` (named `moddable`, as mcconfig names the build by it). */
function mcconfig(directory: string, out: string): { so: string; log: string } {
  mkdirSync(out, { recursive: true });
  const env = { ...process.env, PATH: `${TOOLS}:${join(repoRoot, 'node_modules', '.bin')}:${process.env.PATH}` };
  const run = spawnSync(join(TOOLS!, 'mcconfig'), ['-d', '-m', '-p', 'lin', '-o', out, 'manifest.json', `sdRoot=${sdRoot}`], { cwd: directory, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  const log = run.stdout + run.stderr;
  assert.equal(run.status, 0, log.split('\n').filter((l) => !/^# (cc|xsc|tsc|xsid) /.test(l)).slice(-40).join('\n'));
  const so = join(out, 'bin', 'lin', 'mc', 'debug', 'moddable', 'mc.so');
  assert.ok(existsSync(so), `${so} built`);
  return { so, log };
}

test('mcconfig builds the firmware manifest for the Linux host, every module preloaded', { skip: NO_SDK ?? false, timeout: 1_200_000 }, () => {
  const { so, log } = mcconfig(FIRMWARE, join(work, 'preloaded'));
  // The linker ran every preload entry's module body without an exception.
  assert.doesNotMatch(log, /# Exception/);
  built = so;
});

/** Why the built firmware cannot be run here, or undefined. */
function noRun(): string | undefined {
  if (NO_SDK !== undefined) return NO_SDK;
  if (spawnSync('xvfb-run', ['--help']).error) return 'no xvfb-run (apt-get install xvfb): the simulator opens a GTK window';
  if (!existsSync(join(XSBUG_LOG, 'node_modules'))) return `the simulator's console needs xsbug-log: cd ${XSBUG_LOG} && npm install`;
  return undefined;
}

/** Answers every SNTP request on 127.0.0.1:123 with this machine's time (the device asks before its first token). */
async function sntpServer(): Promise<dgram.Socket | string> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (_, from) => {
    const reply = Buffer.alloc(48);
    reply[0] = 0x24; // version 4, server mode
    reply[1] = 1; // stratum 1
    reply.writeUInt32BE(Math.floor(Date.now() / 1000) + 2_208_988_800, 40);
    socket.send(reply, from.port, from.address);
  });
  return new Promise((resolve) => {
    socket.once('error', (e) => resolve(`no SNTP server on 127.0.0.1:123 (${e.message}): the device sets its clock by SNTP on port 123`));
    socket.bind(123, '127.0.0.1', () => resolve(socket));
  });
}

/** The card: the session's hsm_secret and policy, an empty journal, config.json as given; no high-water mark. */
function prepareCard(secret: Uint8Array, config: Record<string, unknown>, t: TestContext): void {
  const data = dataDirWith(secret, t);
  rmSync(sdRoot, { recursive: true, force: true });
  // The high-water mark's "NVS": on lin, Moddable's Preference keeps a file named by config file.root (manifest.json).
  rmSync(NVS_FILE, { force: true });
  mkdirSync(join(sdRoot, 'journal'), { recursive: true });
  for (const file of ['hsm_secret', 'policy.json']) writeFileSync(join(sdRoot, file), readFileSync(join(data, file)));
  writeFileSync(join(sdRoot, 'config.json'), JSON.stringify({ ...config, sntp: ['127.0.0.1'] }));
}

/**
 * The built firmware in the SDK's simulator under Xvfb, its console (through the SDK's
 * xsbug-log) in a file: a pipe would stall the device while a synchronous replay holds this
 * process's event loop.
 */
async function startSimulator(so: string): Promise<{ console: () => string; stop: () => void }> {
  const file = join(work, `console-${Date.now()}.txt`);
  const port = String(await freePort());
  const out = openSync(file, 'w');
  const env = { ...process.env, XSBUG_PORT: port, XSBUG_LOG_PORT: port, XSBUG_HOST: 'localhost', XSBUG_PROJECT: FIRMWARE };
  // Its X authority file in `work`: left to itself, xvfb-run makes a directory under TMPDIR that its stop (SIGTERM) leaves behind.
  const sim = spawn('xvfb-run', ['-a', '-f', join(work, `Xauthority-${port}`), 'node', 'xsbug-log', join(TOOLS!, 'mcsim'), so], { cwd: XSBUG_LOG, env, detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  return {
    console: () => readFileSync(file, 'utf8').replace(/\x1b\[[0-9]*[KG]/g, '').slice(-3000),
    stop: () => process.kill(-sim.pid!, 'SIGTERM'),
  };
}

const sessionSecret = (): Uint8Array => Uint8Array.from(loadTranscript(fixturePath(`transcripts/${NAME}`)).header.hsm_secret.match(/../g)!.map((b) => parseInt(b, 16)));

test(`the preloaded firmware built by mcconfig boots, connects and answers ${NAME} byte for byte`, { skip: noRun() ?? false, timeout: 600_000 }, async (t) => {
  if (built === undefined) return t.skip('the build failed');
  const sntp = await sntpServer();
  if (typeof sntp === 'string') return t.skip(sntp);
  const secret = sessionSecret();
  const server = await MqttServer.start();
  prepareCard(secret, { mqttUrl: server.url, brokerId: BROKER_ID }, t);
  const broker = await BrokerStandIn.connect(server.url, deviceIdOf(secret));
  const sim = await startSimulator(built);
  const requests = sessionRequests(NAME);
  try {
    await broker.until(() => broker.hellos.length > 0, 'hello', 120_000).catch((e: Error) => assert.fail(`${e.message}; the device's console:\n${sim.console()}`));
    assert.equal(broker.hellos[0]!.lastId, '0');
    assert.equal(broker.statuses.at(-1), 'online');
    const started = Date.now();
    for (const r of requests) await broker.send(r.envelope);
    await broker.until(() => broker.answered === requests.length, 'every reply', 400_000);
    t.diagnostic(`${requests.length} requests answered in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const different = requests.filter((r) => {
      const { reply } = decodeReplyEnvelope(broker.replies.get(r.envelope.id)![0]!);
      return (reply.kind === 'frame' ? toHex(reply.frame) : reply.kind === 'none' ? null : reply.kind) !== r.exchange.rep;
    });
    assert.deepEqual(different.map((r) => r.exchange.seq), [], 'replies that differ from the recording');
  } finally {
    sim.stop();
    await broker.close();
    await server.close();
    sntp.close();
  }
});

/** The device on another loopback address than the broker's plain listener, as on Wi-Fi (test/remote-tls.test.ts). */
const WIFI = '127.0.0.2';

/**
 * bin/sphinx-hsmd in remote mode, driven as lightningd drives it, its embedded MQTT server up
 * (lightningd's init sent) and the card written for it: plain on loopback, or TLS on WIFI with
 * `ca` (the generated CA's file, or another) as the card's ca.pem.
 */
async function brokerForDevice(t: TestContext, tls: { ca: (dataDir: string) => string } | undefined) {
  const { header, exchanges } = loadTranscript(fixturePath(`transcripts/${NAME}`));
  const secret = sessionSecret();
  const dataDir = join(work, 'broker');
  rmSync(dataDir, { recursive: true, force: true });
  const [port, tlsPort] = [await freePort(), await freePort()];
  const tlsEnv = { SPHINX_TLS_GENERATE: '1', SPHINX_MQTT_TLS_HOST: WIFI, SPHINX_MQTT_TLS_PORT: String(tlsPort) };
  const ld = await SimLightningd.start({
    hsmSecret: Buffer.from(secret),
    args: header.hsmd_args,
    env: { SPHINX_SIGNER: 'remote', SPHINX_DATA_DIR: dataDir, SPHINX_MQTT_PORT: String(port), SPHINX_CLN_VERSION: header.cln_version, ...(tls ? tlsEnv : {}) },
  });
  t.after(async () => {
    await ld.stop().catch(() => undefined);
    ld.cleanup();
  });
  const [init, ...rest] = exchanges;
  ld.master.send(init!.req); // lightningd's init starts the broker's signer side and its MQTT server
  await ld.waitForStatus((m) => m.kind === 'log' && m.entry.includes('MQTT: embedded server on'));
  const brokerId = readFileSync(join(dataDir, 'broker-id'), 'utf8').trim();
  const mqttUrl = tls ? `mqtts://${WIFI}:${tlsPort}` : `mqtt://127.0.0.1:${port}`;
  prepareCard(secret, { mqttUrl, brokerId }, t);
  if (tls) writeFileSync(join(sdRoot, 'ca.pem'), readFileSync(tls.ca(dataDir)));
  return { ld, secret, dataDir, init: init!, rest, mqttUrl };
}

const generatedCa = { ca: (dataDir: string) => join(dataDir, 'tls', 'ca.pem') };

for (const tls of [undefined, generatedCa]) test(`the preloaded firmware behind the real sphinx-hsmd${tls ? ` over TLS from ${WIFI} (the generated CA on the card)` : ''} answers ${NAME} byte for byte, its journal mirrored`, { skip: noRun() ?? false, timeout: 600_000 }, async (t) => {
  if (built === undefined) return t.skip('the build failed');
  const sntp = await sntpServer();
  if (typeof sntp === 'string') return t.skip(sntp);
  t.after(() => sntp.close());
  const { ld, secret, dataDir, init, rest } = await brokerForDevice(t, tls);
  const device = await startSimulator(built);
  t.after(() => device.stop());
  await ld.waitForStatus((m) => m.kind === 'log' && m.entry.includes('hello from'), 120_000).catch((e: Error) => assert.fail(`${e.message}; the device's console:\n${device.console()}`));
  // The XS firmware echoes the broker's warm start (docs/remote-protocol.md "Warm start") before its hello is used.
  const warmed = /warm start with [0-9a-f]{66}: [1-9]\d* echoes in \d+ ms/.exec(ld.describeStatus());
  assert.ok(warmed, `the broker warmed the path with the device:\n${ld.describeStatus()}`);
  t.diagnostic(warmed[0]);
  assert.equal(toHex(ld.master.receive(60_000)), init.rep, 'the init reply, from the device');
  const started = Date.now();
  const result = replayExchanges(ld, rest);
  t.diagnostic(`${rest.length} exchanges in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.equal(result.failed, 0, `${JSON.stringify(result.mismatches.slice(0, 3))}\n${ld.describeStatus()}\nthe device's console:\n${device.console()}`);
  // The broker's log and its mirror of the device's journal, audited against the card's journal.
  await ld.stop();
  device.stop();
  const secretFile = join(work, 'hsm_secret');
  writeFileSync(secretFile, secret);
  const audit = spawnSync(process.execPath, [join(repoRoot, 'bin', 'sphinx-audit'), 'verify', '--log', dataDir, '--journal', join(sdRoot, 'journal'), '--hsm-secret', secretFile, '--policy', join(sdRoot, 'policy.json'), '--json'], { encoding: 'utf8' });
  assert.equal(audit.status, 0, audit.stdout + audit.stderr);
  const report = JSON.parse(audit.stdout) as { mirror?: { entries: number; macs: boolean; findings: unknown[] } };
  // Its entries are snapshots and the records after them (docs/journal.md "Mirror"); exit 0: they match the card's journal.
  assert.ok(report.mirror && report.mirror.macs && report.mirror.entries > 0 && report.mirror.findings.length === 0, `the mirror holds the journal: ${audit.stdout.slice(0, 2000)}`);
});

test(`the preloaded firmware with another CA on its card does not connect to the broker over TLS, and says why`, { skip: noRun() ?? false, timeout: 600_000 }, async (t) => {
  if (built === undefined) return t.skip('the build failed');
  const sntp = await sntpServer();
  if (typeof sntp === 'string') return t.skip(sntp);
  t.after(() => sntp.close());
  const foreign = join(work, 'foreign');
  const { ld, mqttUrl } = await brokerForDevice(t, { ca: () => ensureTlsFiles(foreign, ['localhost']).caFile });
  const device = await startSimulator(built);
  t.after(() => device.stop());
  const refused = `cannot reach the MQTT server ${mqttUrl} (`;
  const deadline = Date.now() + 120_000;
  while (!device.console().includes(refused) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 500));
  const line = device.console().split('\n').find((l) => l.includes(refused));
  assert.ok(line, `the device says it cannot reach the broker; its console:\n${device.console()}`);
  t.diagnostic(line.replace(/^.*\] /, ''));
  assert.match(line, /certificate is not from ca\.pem/);
  assert.ok(!ld.describeStatus().includes('hello from'), 'the broker heard no hello');
});

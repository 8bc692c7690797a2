/**
 * A device beyond loopback (docs/device-tls.md): sphinx-hsmd with SPHINX_TLS_GENERATE=1 makes
 * its CA and server certificate on first start and listens with TLS on 127.0.0.2 (standing in
 * for the Wi-Fi address), its plain listener staying on 127.0.0.1; bin/sphinx-signer connects
 * to mqtts://127.0.0.2 trusting that CA (--ca, or --ca-fingerprint as computed by
 * node:crypto's X509Certificate), and the recorded session comes back byte for byte. A signer
 * pinned to another CA, or another fingerprint, is refused with a message that says so.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { KnownDevices } from '../broker/remote/identity.js';
import { startMqttServer } from '../broker/remote/mqtt-server.js';
import { ensureTlsFiles } from '../broker/remote/tls-files.js';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { fastCurve } from '../node/curve-native.js';
import { fixturePath } from './fixtures.js';
import { freePort, startDeviceProcess } from './remote-helpers.js';
import { loadTranscript } from './transcript.js';

const WIFI = '127.0.0.2';
const TRANSCRIPT = 'hsmd-basic-legacy.jsonl';

async function waitFor(path: string): Promise<void> {
  for (let i = 0; i < 600 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(existsSync(path), `${path} appears`);
}

const refusedOn = (host: string, port: number): Promise<string> =>
  new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => (socket.destroy(), resolve('connected')));
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });

for (const pin of ['--ca', '--ca-fingerprint'] as const) {
  test(`sphinx-signer on ${WIFI} over TLS with the generated CA (${pin}) replays ${TRANSCRIPT} byte for byte`, async () => {
    const path = fixturePath(`transcripts/${TRANSCRIPT}`);
    const { header, exchanges } = loadTranscript(path);
    const dataDir = mkdtempSync(join(tmpdir(), 'sphinx-tls-'));
    const [plainPort, tlsPort] = [await freePort(), await freePort()];
    const env = {
      SPHINX_SIGNER: 'remote',
      SPHINX_DATA_DIR: dataDir,
      SPHINX_MQTT_PORT: String(plainPort),
      SPHINX_TLS_GENERATE: '1',
      SPHINX_MQTT_TLS_HOST: WIFI,
      SPHINX_MQTT_TLS_PORT: String(tlsPort),
      SPHINX_CLN_VERSION: header.cln_version,
    };
    const caFile = join(dataDir, 'tls', 'ca.pem');
    let device: ReturnType<typeof startDeviceProcess> | undefined;
    try {
      // First start: at lightningd's init sphinx-hsmd opens the remote signer and makes the CA;
      // the owner then gives the CA to the device.
      const first = await SimLightningd.start({ env, hsmSecret: Buffer.from(header.hsm_secret, 'hex') });
      first.master.send(exchanges[0]!.req);
      await waitFor(join(dataDir, 'tls', 'server.pem'));
      await first.stop();
      first.cleanup();
      const fingerprint = new X509Certificate(readFileSync(caFile)).fingerprint256;
      assert.match(first.describeStatus(), new RegExp(`made a new CA ${caFile.replace(/[.]/g, '\\.')}, SHA-256 fingerprint ${fingerprint}`));
      device = startDeviceProcess({
        url: `mqtts://${WIFI}:${tlsPort}`,
        brokerIdFile: join(dataDir, 'broker-id'),
        hsmSecret: Buffer.from(header.hsm_secret, 'hex'),
        args: pin === '--ca' ? ['--ca', caFile] : ['--ca-fingerprint', fingerprint],
      });
      const result = await SimLightningd.replayTranscript(path, { env });
      const report = result.mismatches.map((m) => `seq ${m.seq} type ${m.type}\n  expected ${m.expected}\n  got      ${m.got}`).join('\n');
      assert.equal(result.failed, 0, `${report}\nhsmd status:\n${result.status}\ndevice:\n${device.output()}`);
      assert.ok(result.passed > 0);
      assert.match(result.status, new RegExp(`TLS: CA ${caFile.replace(/[.]/g, '\\.')}, SHA-256 fingerprint ${fingerprint}`), 'the CA is kept');
      assert.match(result.status, new RegExp(`TLS on ${WIFI.replace(/[.]/g, '\\.')}:${tlsPort}`));
      assert.match(device.output(), new RegExp(`connected to mqtts://${WIFI.replace(/[.]/g, '\\.')}:${tlsPort}`));
    } finally {
      await device?.stop();
      rmSync(dataDir, { recursive: true, force: true });
      if (device) rmSync(device.dir, { recursive: true, force: true });
    }
  });
}

test('plain MQTT stays on loopback: the Wi-Fi stand-in reaches only the TLS listener', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-tls-plain-'));
  const files = ensureTlsFiles(dir, ['localhost', WIFI]);
  const server = await startMqttServer({
    dataDir: dir, port: 0,
    tls: { certFile: files.certFile, keyFile: files.keyFile, port: 0, host: WIFI },
    brokerId: '00112233445566778899aabbccddeeff', curve: fastCurve(), devices: new KnownDevices(dir, []), log: () => {},
  });
  try {
    assert.equal(await refusedOn(WIFI, server.port), 'ECONNREFUSED');
    assert.equal(await refusedOn('127.0.0.1', server.port), 'connected');
    assert.equal(await refusedOn(WIFI, server.tlsPort!), 'connected');
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('listener ports taken: a default one gives way to a free port, said at UNUSUAL with the setting; a set one is an error naming it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-tls-taken-'));
  const files = ensureTlsFiles(dir, ['localhost', WIFI]);
  const squatters = [net.createServer(), net.createServer()];
  await new Promise<void>((r) => squatters[0]!.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => squatters[1]!.listen(0, WIFI, r));
  const [plainTaken, tlsTaken] = squatters.map((s) => (s.address() as net.AddressInfo).port) as [number, number];
  const lines: string[] = [];
  const options = (givesWay: boolean) => ({
    dataDir: dir, port: plainTaken, givesWay,
    tls: { certFile: files.certFile, keyFile: files.keyFile, port: tlsTaken, host: WIFI, givesWay },
    brokerId: '00112233445566778899aabbccddeeff', curve: fastCurve(), devices: new KnownDevices(dir, []),
    log: (level: string, text: string) => lines.push(`${level}: ${text}`),
  });
  try {
    const server = await startMqttServer(options(true));
    try {
      assert.notEqual(server.port, plainTaken);
      assert.notEqual(server.tlsPort, tlsTaken);
      assert.equal(await refusedOn('127.0.0.1', server.port), 'connected');
      assert.equal(await refusedOn(WIFI, server.tlsPort!), 'connected');
      const gaveWay = lines.filter((l) => / is in use /.test(l));
      assert.deepEqual(gaveWay.map((l) => l.split(':')[0]), ['unusual', 'unusual']);
      assert.match(gaveWay[0]!, new RegExp(`MQTT: 127\\.0\\.0\\.1:${plainTaken} is in use .*listens on 127\\.0\\.0\\.1:${server.port} instead.*Set SPHINX_MQTT_PORT `));
      assert.match(gaveWay[1]!, new RegExp(`MQTT: 127\\.0\\.0\\.2:${tlsTaken} is in use .*listens on 127\\.0\\.0\\.2:${server.tlsPort} instead.*Set SPHINX_MQTT_TLS_PORT `));
    } finally {
      await server.close();
    }
    await assert.rejects(startMqttServer({ ...options(false), port: 0 }),
      new RegExp(`cannot listen on 127\\.0\\.0\\.2:${tlsTaken}: the port is in use .*Set SPHINX_MQTT_TLS_PORT to a free port`));
  } finally {
    squatters.forEach((s) => s.close());
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a sphinx-signer pinned to another CA or another fingerprint is refused, saying why', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-tls-wrong-'));
  const brokerDir = join(dir, 'broker');
  const files = ensureTlsFiles(brokerDir, ['localhost', WIFI]);
  const other = ensureTlsFiles(join(dir, 'other'), ['localhost', WIFI]);
  const lines: string[] = [];
  const brokerId = '00112233445566778899aabbccddeeff';
  const server = await startMqttServer({
    dataDir: brokerDir, port: 0,
    tls: { certFile: files.certFile, keyFile: files.keyFile, port: 0, host: WIFI },
    brokerId, curve: fastCurve(), devices: new KnownDevices(brokerDir, []), log: (level, text) => lines.push(`${level}: ${text}`),
  });
  const brokerIdFile = join(dir, 'broker-id');
  writeFileSync(brokerIdFile, brokerId + '\n');
  const url = `mqtts://${WIFI}:${server.tlsPort}`;
  const cases: [string[], RegExp][] = [
    [['--ca', other.caFile], new RegExp(`TLS: refused ${WIFI.replace(/[.]/g, '\\.')}:${server.tlsPort}: its certificate is not issued by the pinned CA \\(SHA-256 ${other.caFingerprint}\\)`)],
    [['--ca-fingerprint', other.caFingerprint], new RegExp(`no certificate in its chain has the pinned fingerprint ${other.caFingerprint} \\(it presented .*${files.caFingerprint}`)],
  ];
  try {
    for (const [args, message] of cases) {
      const device = startDeviceProcess({ url, brokerIdFile, hsmSecret: new Uint8Array(32).fill(7), args });
      try {
        const out = await device.outputMatching(message, 10_000);
        assert.match(out, message);
        assert.doesNotMatch(out, /\bready\b/);
      } finally {
        await device.stop();
        rmSync(device.dir, { recursive: true, force: true });
      }
    }
    assert.ok(!lines.some((l) => /PINNED DEVICE/.test(l)), 'no device got in');
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * sphinx-signer pointed at the broker's other listener (the embedded MQTT server with its
 * generated TLS files, as sphinx-hsmd runs it): mqtts:// to the plain port, with --ca or
 * --ca-fingerprint, and mqtt:// to the TLS port. Each retry line says which mix-up it likely is
 * and where both addresses are written, instead of a bare socket error.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { KnownDevices } from '../broker/remote/identity.js';
import { startMqttServer } from '../broker/remote/mqtt-server.js';
import { ensureTlsFiles } from '../broker/remote/tls-files.js';
import { fastCurve } from '../node/curve-native.js';
import { BROKER_ID } from './device-driver.js';
import { SIGNER_BIN } from './remote-helpers.js';

/** The signer's first retry line for `args`, then it is stopped. */
async function firstRetryLine(dir: string, args: readonly string[]): Promise<string> {
  const child = spawn(process.execPath, [SIGNER_BIN, '--data', dir, '--broker-id', BROKER_ID, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  const exited = new Promise((r) => child.once('exit', r));
  const until = Date.now() + 20_000;
  while (!/cannot reach .*retrying/.test(out) && child.exitCode === null && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
  child.kill('SIGTERM');
  await exited;
  const line = out.split('\n').find((l) => /cannot reach .*retrying/.test(l));
  assert.ok(line, out);
  return line;
}

test('mqtts:// to the plain port and mqtt:// to the TLS port: the retry line names the likely mix-up and SPHINX_DATA_DIR/mqtt-url', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sphinx-wrong-port-'));
  const files = ensureTlsFiles(root, ['localhost', '127.0.0.1']);
  const server = await startMqttServer({
    dataDir: root, port: 0, tls: { certFile: files.certFile, keyFile: files.keyFile, port: 0, host: '127.0.0.1' },
    brokerId: BROKER_ID, curve: fastCurve(), devices: new KnownDevices(root, []), log: () => {},
  });
  const device = join(root, 'device');
  try {
    mkdirSync(device);
    writeFileSync(join(device, 'hsm_secret'), new Uint8Array(32).fill(1));
    const hint = /is the port the broker's other listener\? mqtt:\/\/ goes to its plain port, mqtts:\/\/ to its TLS port; sphinx-hsmd's SPHINX_DATA_DIR\/mqtt-url lists both\); retrying/;
    const plain = `127.0.0.1:${server.port}`;
    for (const [args, before] of [
      [['--mqtt', `mqtts://${plain}`, '--ca', files.caFile], new RegExp(`TLS: ${plain} closed the connection before the handshake`)],
      [['--mqtt', `mqtts://${plain}`, '--ca-fingerprint', files.caFingerprint], new RegExp(`TLS: cannot reach ${plain}: `)],
      [['--mqtt', `mqtt://127.0.0.1:${server.tlsPort}`], /\(connection closed before an answer: /],
    ] as const) {
      const line = await firstRetryLine(device, args);
      assert.match(line, before);
      assert.match(line, hint);
    }
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

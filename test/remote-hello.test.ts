/**
 * A hello that would exhaust the broker's request ids, through the real processes
 * (docs/remote-protocol.md "Connecting"): a simulated lightningd → bin/sphinx-hsmd (remote,
 * embedded MQTT). Someone logged in with the device's own key (a buggy or hostile firmware)
 * says hello with a last id of 2^64 (not a u64) and one of 2^64−2 (a u64 that leaves one id:
 * the broker's ids would continue after it and run out at the next request). Both are
 * dropped by name; the real bin/sphinx-signer then replays session-basic-l1 byte for byte.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { connectMqtt } from '../broker/remote/mqtt-connect.js';
import { toHex } from '../signer/bytes.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import { unlockHsmSecret } from '../signer/keys/hsm-secret.js';
import { nodePrivateKey } from '../signer/keys/root-secrets.js';
import { makeCredentials } from '../signer/remote/auth-token.js';
import { topic } from '../signer/remote/topics.js';
import { fixturePath } from './fixtures.js';
import { freePort, startDeviceProcess } from './remote-helpers.js';
import { loadTranscript, replayExchanges } from './transcript.js';

const { header, exchanges } = loadTranscript(fixturePath('transcripts/session-basic-l1.jsonl'));
const SECRET = Buffer.from(header.hsm_secret, 'hex');

test('hellos with a last id of 2^64 and of 2^64-2 are dropped by name; the device then replays byte-identical', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'sphinx-hello-'));
  const dataDir = join(root, 'broker');
  const port = await freePort();
  const ld = await SimLightningd.start({
    hsmSecret: SECRET,
    args: header.hsmd_args,
    env: { SPHINX_SIGNER: 'remote', SPHINX_DATA_DIR: dataDir, SPHINX_MQTT_PORT: String(port), SPHINX_CLN_VERSION: header.cln_version },
  });
  let device: ReturnType<typeof startDeviceProcess> | undefined;
  t.after(async () => {
    await ld.stop().catch(() => undefined);
    ld.cleanup();
    await device?.stop();
    rmSync(root, { recursive: true, force: true });
  });
  const [init, ...rest] = exchanges;
  assert.equal(init!.req.slice(0, 4), '000b', 'the session starts with hsmd_init');
  ld.master.send(init!.req); // lightningd's init opens the broker's signer side (and its MQTT server)
  await ld.waitForStatus((m) => m.kind === 'log' && m.entry.includes('MQTT: embedded server on'));
  const brokerIdFile = join(dataDir, 'broker-id');
  assert.ok(existsSync(brokerIdFile));
  const key = nodePrivateKey(nobleCurve, unlockHsmSecret(SECRET));
  const id = toHex(nobleCurve.publicKey(key));
  const client = connectMqtt(`mqtt://127.0.0.1:${port}`, { clientId: `${id.slice(0, 60)}-other`, clean: true, reconnectPeriod: 0, ...makeCredentials(nobleCurve, key, readFileSync(brokerIdFile, 'utf8').trim(), Date.now(), 0n) });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  for (const lastId of ['18446744073709551616', '18446744073709551614']) {
    await client.publishAsync(topic(id, 'hello'), JSON.stringify({ lastId, firmware: 'not ours' }), { qos: 1 });
  }
  await ld.waitForStatus((m) => m.kind === 'log' && /malformed hello from 0[23][0-9a-f]{64} dropped: lastId 18446744073709551616 is above 2\^64-1/.test(m.entry));
  await ld.waitForStatus((m) => m.kind === 'log' && /malformed hello from 0[23][0-9a-f]{64} dropped: lastId 18446744073709551614 leaves fewer than 2\^32 request ids/.test(m.entry));
  await client.endAsync();

  device = startDeviceProcess({ url: `mqtt://127.0.0.1:${port}`, dir: join(root, 'device'), brokerIdFile, hsmSecret: SECRET });
  assert.equal(toHex(ld.master.receive(30_000)), init!.rep, 'the init reply, from the device');
  const result = replayExchanges(ld, rest);
  assert.equal(result.failed, 0, `${JSON.stringify(result.mismatches.slice(0, 3))}\n${ld.describeStatus()}`);
});

/**
 * A device's login token replayed against the real broker (docs/remote-protocol.md
 * "Connecting"): a simulated lightningd → bin/sphinx-hsmd (remote, embedded MQTT). The real
 * bin/sphinx-signer logs in through a relay that keeps its CONNECT (test/mqtt-tap.ts), as anyone
 * on the path sees it. Its token, used once (the device is in and answers), is presented again
 * by an mqtt.js client under the device's client id (a takeover of its session): as it was, and
 * high-S (the same signature with S → n − S); then again after the broker process is restarted
 * on the same SPHINX_DATA_DIR, within the token's validity. Each login is refused, lightningd's
 * log names the reason, the client never subscribes, and the device keeps its session: the
 * next requests get CLN's recorded replies from it; after the restart a fresh device login
 * still gets in.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { connectMqtt } from '../broker/remote/mqtt-connect.js';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { toHex } from '../signer/bytes.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import { checkCredentials, type Credentials, TOKEN_MAX_AGE_MS } from '../signer/remote/auth-token.js';
import { topic } from '../signer/remote/topics.js';
import { otherSpelling, REPLAYED_RESPELLED } from './embedded-mqtt.js';
import { deviceIdOf } from './device-driver.js';
import { fixturePath } from './fixtures.js';
import { MqttTap } from './mqtt-tap.js';
import { type DeviceProcess, freePort, startDeviceProcess } from './remote-helpers.js';
import { loadTranscript, replayExchanges } from './transcript.js';

const { header, exchanges } = loadTranscript(fixturePath('transcripts/session-basic-l1.jsonl'));
const SECRET = Buffer.from(header.hsm_secret, 'hex');
const DEVICE_ID = deviceIdOf(SECRET);
const [INIT, ...REST] = exchanges;

/** Logs in with `creds` under `clientId` and asks for the device's requests at once: the CONNACK's refusal, and the subscription's. */
async function replayed(port: number, clientId: string, creds: Credentials): Promise<{ connect: Error | undefined; subscribe: Error | undefined }> {
  const client = connectMqtt(`mqtt://127.0.0.1:${port}`, { clientId, clean: false, reconnectPeriod: 0, ...creds });
  const subscribed = client.subscribeAsync(topic(DEVICE_ID, 'req'), { qos: 1 }).then(() => undefined, (e: Error) => e);
  const connect = await new Promise<Error | undefined>((resolve) => {
    client.once('connect', () => resolve(undefined));
    client.once('error', resolve);
  });
  client.end(true);
  return { connect, subscribe: await subscribed };
}

/** Presents the captured token as it was and high-S: both refused, each for its reason as lightningd's log shows it. */
async function assertRefused(ld: SimLightningd, port: number, clientId: string, token: Credentials, asIs: RegExp): Promise<void> {
  for (const [spelling, creds, reason] of [['as captured', token, asIs], ['high-S', otherSpelling(token), REPLAYED_RESPELLED]] as const) {
    const before = ld.statusMessages.length;
    const { connect, subscribe } = await replayed(port, clientId, creds);
    assert.match(connect?.message ?? 'connected', /Bad username or password/, `${spelling}: the login is refused`);
    assert.ok(subscribe, `${spelling}: never subscribed to the device's requests`);
    // Its last id (0: the device's journal was empty when it logged in) is behind what the broker
    // answered since, so the server has it kept apart before checking the token (mqtt-server.ts).
    const who = `${clientId} (?:\\(kept apart as stale before its token was checked\\)|\\(username ${DEVICE_ID}\\))`;
    const refusal = new RegExp(`^MQTT: refused connection from ${who}${reason.source}`);
    const logged = await ld.waitForStatus((m) => m.kind === 'log' && refusal.test(m.entry) && ld.statusMessages.indexOf(m) >= before);
    assert.equal(logged.kind === 'log' && logged.level, 5, `${spelling}: logged as unusual`);
  }
}

test('a used device token is refused as captured and high-S, also after the broker restarts; the device keeps its session', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'sphinx-token-replay-'));
  const dataDir = join(root, 'broker');
  const port = await freePort();
  const startBroker = async (): Promise<SimLightningd> => {
    const ld = await SimLightningd.start({
      hsmSecret: SECRET,
      args: header.hsmd_args,
      env: { SPHINX_SIGNER: 'remote', SPHINX_DATA_DIR: dataDir, SPHINX_MQTT_PORT: String(port), SPHINX_CLN_VERSION: header.cln_version },
    });
    ld.master.send(INIT!.req); // lightningd's init opens the broker's signer side and its MQTT server
    await ld.waitForStatus((m) => m.kind === 'log' && m.entry.includes('MQTT: embedded server on'));
    return ld;
  };
  const tap = await MqttTap.start(port);
  let ld = await startBroker();
  const brokerIdFile = join(dataDir, 'broker-id');
  let device: DeviceProcess = startDeviceProcess({ url: `mqtt://127.0.0.1:${tap.port}`, dir: join(root, 'device'), brokerIdFile, hsmSecret: SECRET });
  t.after(async () => {
    await device.stop();
    await tap.stop();
    ld.cleanup();
    rmSync(root, { recursive: true, force: true });
  });

  // The device logs in through the tap and answers: its token is used.
  assert.equal(toHex(ld.master.receive(30_000)), INIT!.rep, 'the init reply, from the device');
  const { clientId, ...token } = await tap.firstLogin();
  assert.equal(token.username, DEVICE_ID);
  const brokerId = readFileSync(brokerIdFile, 'utf8').trim();
  const check = checkCredentials(nobleCurve, token.username, token.password, brokerId, Date.now());
  assert.ok(check.ok, 'the captured token is the device\'s own, and still fresh');

  await assertRefused(ld, port, clientId, token, /: token already used/);
  // Its session was not taken: the next requests reach the device and are answered as CLN did.
  const next = REST.slice(0, 12);
  const answered = replayExchanges(ld, next);
  assert.equal(answered.failed, 0, `${JSON.stringify(answered.mismatches.slice(0, 3))}\n${ld.describeStatus()}`);

  // The broker process restarts on the same data directory; the token is still within its validity.
  await device.stop();
  assert.equal((await ld.stop()).code, 2);
  ld.cleanup();
  ld = await startBroker();
  await assertRefused(ld, port, clientId, token, /: token already used/);
  assert.ok(Date.now() - check.issuedAt < TOKEN_MAX_AGE_MS, 'refused as used, within the time it would be accepted');
  // A fresh login still gets in: the device, started again, answers the waiting init.
  device = startDeviceProcess({ url: `mqtt://127.0.0.1:${port}`, dir: join(root, 'device'), brokerIdFile, hsmSecret: SECRET });
  assert.equal(toHex(ld.master.receive(30_000)), INIT!.rep, 'the init reply, from the device with a fresh token');
});

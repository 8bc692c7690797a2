/**
 * A broker restarted while its device stays connected (docs/remote-protocol.md "Connecting"):
 * under an external Mosquitto the device's connection outlives bin/sphinx-hsmd, so the new
 * broker never sees the hello the device sent on connecting. It learns of the device from its
 * retained `online` status, asks for hello (`hello-request`), and lightningd's init after the
 * restart is answered by the device, byte-identical to CLN's; the device's journal goes on.
 * Before hello-request, the new broker waited for a hello that never came and lightningd's init
 * went unanswered.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { deviceIdOf } from './device-driver.js';
import { fixturePath } from './fixtures.js';
import { startDeviceProcess, startMosquitto } from './remote-helpers.js';
import { loadTranscript, replayExchanges } from './transcript.js';

const { header, exchanges } = loadTranscript(fixturePath('transcripts/session-basic-l1.jsonl'));
const SECRET = Buffer.from(header.hsm_secret, 'hex');
const DEVICE = deviceIdOf(SECRET);
const INIT = 11;
const typeOf = (seq: number): number => parseInt(exchanges[seq - 1]!.req.slice(0, 4), 16);

const mosquitto = spawnSync('sh', ['-c', 'command -v mosquitto']).status === 0;
test('an external MQTT server: a broker restarted while the device stays connected asks it for hello, and lightningd\'s init is answered by it', { skip: !mosquitto && 'mosquitto is not installed (.ci/run installs it)' }, async () => {
  const server = await startMosquitto([DEVICE]);
  const dataDir = mkdtempSync(join(tmpdir(), 'sphinx-restart-'));
  const device = startDeviceProcess({
    url: server.deviceUrl,
    dir: join(dataDir, 'device'),
    brokerIdFile: join(dataDir, 'broker-id'),
    hsmSecret: SECRET,
    args: ['--ca', server.caFile, '--mqtt-password-file', server.passwordFiles.get(DEVICE)!],
  });
  const startBroker = () => SimLightningd.start({
    hsmSecret: SECRET,
    args: header.hsmd_args,
    env: { SPHINX_SIGNER: 'remote', SPHINX_DATA_DIR: dataDir, SPHINX_MQTT_URL: server.url, SPHINX_MQTT_CA: server.caFile, SPHINX_CLN_VERSION: header.cln_version },
  });
  let ld: SimLightningd | undefined;
  try {
    assert.equal(typeOf(1), INIT);
    ld = await startBroker();
    const first = replayExchanges(ld, exchanges.slice(0, 20));
    assert.deepEqual(first.mismatches, []);
    await ld.stop();
    ld.cleanup();

    ld = await startBroker();
    const again = replayExchanges(ld, exchanges.slice(0, 1));
    assert.deepEqual(again.mismatches, [], `hsmd:\n${ld.describeStatus()}\ndevice:\n${device.output()}`);
    await ld.waitForStatus((m) => JSON.stringify(m).includes(`device ${DEVICE} was connected before this broker subscribed; asking it for hello`));
    assert.match(device.output(), /the broker asks for hello \(it started after this connection\); hello lastId [1-9]\d*/);
    assert.equal((device.output().match(/connected to mqtts:/g) ?? []).length, 1, 'the device kept its one connection throughout');
  } finally {
    await ld?.stop().catch(() => undefined);
    ld?.cleanup();
    await device.stop();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

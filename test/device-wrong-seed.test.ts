/**
 * A device set up with another node's seed, over the real processes: bin/sphinx-hsmd (remote,
 * embedded MQTT) under the simulated lightningd replaying hsmd-basic-legacy, and
 * bin/sphinx-signer holding hsmd-basic-mnemonic's hsm_secret (another recorded node's):
 * - nothing pinned yet: the device is let in and answers init with its own keys; lightningd's
 *   wallet check (check_pubkey) then stops hsmd, and both lightningd's log (status_fail) and the
 *   device's log name the keys that differed and the likely mistake, another node's seed;
 * - the node's own device pinned first: the other one is refused at login, the broker's line
 *   naming its key, the pinned one and what to do, the device's naming its own id and the same
 *   likely mistake; it is sent nothing.
 * The keys are the recordings' (each node's check_pubkey) and the seeds' node ids.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { LOG_LEVELS } from '../broker/status-wire.js';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { fromHex, toHex } from '../signer/bytes.js';
import { decodeAs, messageType } from '../signer/wire/messages.js';
import { deviceIdOf } from './device-driver.js';
import { fixturePath } from './fixtures.js';
import { freePort, journalById, startDeviceProcess } from './remote-helpers.js';
import { loadTranscript, type Exchange } from './transcript.js';

const PATH = fixturePath('transcripts/hsmd-basic-legacy.jsonl');
const node = loadTranscript(PATH);
const other = loadTranscript(fixturePath('transcripts/hsmd-basic-mnemonic.jsonl'));
const NODE_SECRET = Buffer.from(node.header.hsm_secret, 'hex');
const OTHER_SECRET = Buffer.from(other.header.hsm_secret, 'hex');
const CHECK_PUBKEY = messageType('hsmd_check_pubkey');
const typeOf = (ex: Exchange): number => parseInt(ex.req.slice(0, 4), 16);
/** Each node's own check of its wallet key (lightningd's, from the keys its hsmd gave it). */
const walletCheck = (exchanges: readonly Exchange[]) => decodeAs('hsmd_check_pubkey', fromHex(exchanges.find((ex) => typeOf(ex) === CHECK_PUBKEY)!.req));
const ANOTHER_SEED = "the signer's hsm_secret is not this node's (a device set up with another node's seed?): " +
  'give the signer this node\'s hsm_secret, or run lightningd on the node that seed belongs to';

const startBroker = (dataDir: string, mqttPort: number): Promise<SimLightningd> =>
  SimLightningd.start({
    hsmSecret: NODE_SECRET,
    args: node.header.hsmd_args,
    env: { SPHINX_SIGNER: 'remote', SPHINX_DATA_DIR: dataDir, SPHINX_MQTT_PORT: String(mqttPort), SPHINX_CLN_VERSION: node.header.cln_version },
  });

test("a device with another node's seed, let in: lightningd's wallet check stops hsmd, and both logs name another node's seed", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-wrong-seed-'));
  const mqttPort = await freePort();
  const device = startDeviceProcess({ url: `mqtt://127.0.0.1:${mqttPort}`, brokerIdFile: join(dir, 'sphinx', 'broker-id'), hsmSecret: OTHER_SECRET });
  const ld = await startBroker(join(dir, 'sphinx'), mqttPort);
  try {
    const theirs = walletCheck(node.exchanges);
    const ours = walletCheck(other.exchanges);
    assert.equal(ours.index, theirs.index, 'both recordings check the same wallet index');
    const differed = `BIP32 derivation index ${theirs.index} differed: they got ${toHex(theirs.pubkey)}, we got ${toHex(ours.pubkey)}: ${ANOTHER_SEED}`;
    ld.replay(PATH);
    const fail = await ld.waitForStatus((m) => m.kind === 'fail', 20_000);
    assert.ok(fail.kind === 'fail');
    assert.equal(fail.desc, differed, "lightningd's log: what differed, then the likely mistake");
    const output = await device.outputMatching(/BROKEN .*hsmd_check_pubkey/, 10_000);
    const line = output.split('\n').find((l) => l.includes('hsmd_check_pubkey'));
    assert.match(line ?? output, /^\S+Z BROKEN +request \d+ \(hsmd_check_pubkey\) failed: lightningd's hsmd stops on this reply: /);
    assert.ok(line!.endsWith(differed), line);
  } finally {
    ld.cleanup();
    await device.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a device with another node's seed, the node's own device pinned: refused at login, both sides naming the likely mistake", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sphinx-wrong-seed-pinned-'));
  const dataDir = join(dir, 'sphinx');
  const mqttPort = await freePort();
  const [nodeId, otherId] = [deviceIdOf(NODE_SECRET), deviceIdOf(OTHER_SECRET)];
  const init = node.exchanges[0]!;
  assert.equal(typeOf(init), messageType('hsmd_init'));
  // The node's own device connects first: pinned, and it answers init as the recording did.
  const own = startDeviceProcess({ url: `mqtt://127.0.0.1:${mqttPort}`, brokerIdFile: join(dataDir, 'broker-id'), hsmSecret: NODE_SECRET });
  let ld = await startBroker(dataDir, mqttPort);
  try {
    assert.equal(toHex(ld.master.request(fromHex(init.req))), init.rep);
    assert.equal(readFileSync(join(dataDir, 'pinned-devices'), 'utf8'), `${nodeId}\n`);
  } finally {
    await ld.stop().catch(() => undefined);
    ld.cleanup();
    await own.stop();
  }
  // Then the other seed's device, on the same broker.
  const device = startDeviceProcess({ url: `mqtt://127.0.0.1:${mqttPort}`, brokerIdFile: join(dataDir, 'broker-id'), hsmSecret: OTHER_SECRET });
  ld = await startBroker(dataDir, mqttPort);
  try {
    ld.master.send(fromHex(init.req)); // lightningd's init waits for a device
    const refused = await ld.waitForStatus((m) => m.kind === 'log' && m.entry.includes('MQTT: refused connection'), 20_000);
    assert.ok(refused.kind === 'log');
    assert.equal(refused.level, LOG_LEVELS.unusual);
    // Named by its own id, not the client id it was kept apart under (its token claims no history).
    assert.match(refused.entry, new RegExp(`MQTT: refused connection from ${otherId} \\(kept apart as stale before its token was checked\\)`));
    const pinned = join(dataDir, 'pinned-devices');
    assert.ok(refused.entry.endsWith(`: unknown key ${otherId}: this broker lets in the device pinned in ${pinned} (${nodeId}). ` +
      "A device's key is the node id of its hsm_secret, so this device holds another seed: most likely it was set up with another node's seed " +
      "(give it this node's hsm_secret); if it is this node's device and the pinned one is not (another seed's device connected first), " +
      `stop sphinx-hsmd, delete ${pinned} (or set SPHINX_DEVICE_KEYS=${otherId}) and start it again`), refused.entry);
    const output = await device.outputMatching(/does not let this device's key in/, 10_000);
    const line = output.split('\n').find((l) => l.includes("does not let this device's key in"));
    assert.ok(line, output);
    assert.match(line, new RegExp(`UNUSUAL +cannot reach the MQTT server mqtt://127\\.0\\.0\\.1:${mqttPort} \\(Connection refused: Not authorized\\): ` +
      `it does not let this device's key in \\(device ${otherId}, the node id of its hsm_secret\\)\\. .*most likely this device was set up with another node's seed ` +
      "\\(give it this node's hsm_secret; sphinx-hsmd's log names the key it knows\\), or the broker pinned another device first"));
    assert.equal(journalById(device.dir).size, 0, 'it was sent nothing');
    assert.doesNotMatch(ld.describeStatus(), new RegExp(`device ${otherId} authenticated`));
  } finally {
    ld.cleanup();
    await device.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Memory before authentication in the real broker process (docs/remote-protocol.md
 * "Connecting", its limits): a simulated lightningd → bin/sphinx-hsmd (remote, embedded MQTT).
 * Four raw TCP sockets each announce a CONNECT of 256 MiB and send its body as fast as the
 * broker reads; the broker cuts each off before it has sent its 32 MiB, logs each by name, and
 * its peak resident memory (VmHWM of the spawned hsmd, reset just before) stays within the
 * bound the in-process test (broker/remote/mqtt-server.test.ts) holds the server to. Then the
 * real bin/sphinx-signer still gets in and answers lightningd's init.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { toHex } from '../signer/bytes.js';
import { floodBeforeAuth, REFUSED_256_MIB } from './embedded-mqtt.js';
import { fixturePath } from './fixtures.js';
import { type DeviceProcess, freePort, startDeviceProcess } from './remote-helpers.js';
import { loadTranscript } from './transcript.js';

const { header, exchanges } = loadTranscript(fixturePath('transcripts/session-basic-l1.jsonl'));
const SECRET = Buffer.from(header.hsm_secret, 'hex');
const INIT = exchanges[0]!;
const MIB = 2 ** 20;

/** A field of /proc/<pid>/status in bytes (VmRSS: resident now; VmHWM: the peak since the last reset). */
function memoryOf(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const kib = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  assert.ok(kib, `${field} of process ${pid}`);
  return Number(kib) * 1024;
}

test('the spawned broker cuts off CONNECTs announcing 256 MiB before authentication; its peak RSS stays bounded; a device still gets in', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sphinx-preauth-'));
  const port = await freePort();
  const ld = await SimLightningd.start({
    hsmSecret: SECRET,
    args: header.hsmd_args,
    env: { SPHINX_SIGNER: 'remote', SPHINX_DATA_DIR: dataDir, SPHINX_MQTT_PORT: String(port), SPHINX_CLN_VERSION: header.cln_version },
  });
  let device: DeviceProcess | undefined;
  t.after(async () => {
    await device?.stop();
    ld.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });
  ld.master.send(INIT.req); // opens the broker's signer side and its MQTT server
  await ld.waitForStatus((m) => m.kind === 'log' && m.entry.includes('MQTT: embedded server on'));

  const pid = ld.child.pid!;
  writeFileSync(`/proc/${pid}/clear_refs`, '5'); // VmHWM from here on (proc(5), clear_refs)
  const before = memoryOf(pid, 'VmRSS');
  const flooded = await floodBeforeAuth(port);
  const peak = (memoryOf(pid, 'VmHWM') - before) / MIB;
  const sent = flooded.reduce((a, f) => a + f.sent, 0) / MIB;
  assert.ok(peak < 48, `the broker's peak RSS grew by ${peak.toFixed(1)} MiB while 4 clients sent ${sent} MiB`);
  assert.ok(flooded.every((f) => f.cutOff), `each socket was closed by the broker before it had sent its 32 MiB: ${JSON.stringify(flooded)}`);
  const refusals = () => ld.statusMessages.filter((m) => m.kind === 'log' && m.level === 5 && REFUSED_256_MIB.test(m.entry));
  for (let i = 0; i < 100 && refusals().length < 4; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(refusals().length, 4, ld.describeStatus());

  device = startDeviceProcess({ url: `mqtt://127.0.0.1:${port}`, dir: join(dataDir, 'device'), brokerIdFile: join(dataDir, 'broker-id'), hsmSecret: SECRET });
  assert.equal(toHex(ld.master.receive(30_000)), INIT.rep, 'the init reply, from the device');
});

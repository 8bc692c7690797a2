/**
 * Chain tracking end to end: a simulated lightningd sends node l1's recorded requests
 * (test/fixtures/chain/) to bin/sphinx-hsmd (SPHINX_SIGNER=remote, embedded MQTT), whose
 * chain relay follows a JSON-RPC server serving the recorded regtest blocks as bitcoind
 * (test/fake-bitcoind.ts); a device process (bin/sphinx-signer) checks and journals what it
 * is shown. bitcoind mines each block when the run did; before the next request the test
 * waits until the status page reports the device's tip at that block. Every reply must be
 * the recorded one, and the device's journal must hold both funding outpoints confirmed
 * and spent at the heights bitcoinjs-lib finds them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { SignerCore } from '../core/signer-core.js';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { openJournalFiles } from '../log/journal/journal.js';
import { NodeDir } from '../node/node-file.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import { decodeReply } from '../signer/event-codec.js';
import { Signer } from '../signer/signer.js';
import { tipOf } from '../signer/chain/view.js';
import type { SyncConnection } from './sync-wire.js';
import { FakeBitcoind } from './fake-bitcoind.js';
import { display, recordedChain, recordedSession } from './recorded-chain.js';
import { freePort, startDeviceProcess } from './remote-helpers.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('l1 through sphinx-hsmd and a device process, with the chain relay following bitcoind block by block', { timeout: 240_000 }, async (t) => {
  const chain = recordedChain();
  const { exchanges, hsmSecret } = recordedSession('l1');
  const bitcoind = await FakeBitcoind.start({ tip: 0 });
  const dataDir = mkdtempSync(join(tmpdir(), 'sphinx-chain-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const device = startDeviceProcess({ url: `mqtt://127.0.0.1:${mqttPort}`, dir: join(dataDir, 'device'), brokerIdFile: join(dataDir, 'broker-id'), hsmSecret });
  const ld = await SimLightningd.start({
    hsmSecret,
    env: {
      SPHINX_SIGNER: 'remote',
      SPHINX_DATA_DIR: dataDir,
      SPHINX_MQTT_PORT: String(mqttPort),
      SPHINX_HTTP_PORT: String(httpPort),
      SPHINX_CLN_VERSION: 'v25.12.1',
      SPHINX_BITCOIND_URL: bitcoind.url,
      SPHINX_BITCOIND_USER: bitcoind.user,
      SPHINX_BITCOIND_PASSWORD: bitcoind.password,
      SPHINX_BITCOIND_POLL_MS: '50',
    },
  });
  type Watched = { outpoint: string; confirmed: number | null; spent: number | null };
  const status = async () => (await (await fetch(`http://127.0.0.1:${httpPort}/api/status`)).json()) as {
    chain: { deviceTip: number | null; devices: { status: { watched: Watched[] } }[] };
  };
  // Where each transaction is mined and each outpoint spent in the recorded chain (bitcoinjs-lib).
  const minedAt = new Map<string, number>();
  const spentAt = new Map<string, number>();
  for (const b of chain) {
    for (const t of b.block.transactions!) {
      minedAt.set(t.getId(), b.height);
      for (const i of t.ins) spentAt.set(`${display(new Uint8Array(i.hash))}:${i.index}`, b.height);
    }
  }
  const expected = (w: Watched): Watched => {
    const mined = minedAt.get(w.outpoint.split(':')[0]!);
    const spent = spentAt.get(w.outpoint);
    return { outpoint: w.outpoint, confirmed: mined !== undefined && mined <= bitcoind.tip ? mined : null, spent: spent !== undefined && spent <= bitcoind.tip ? spent : null };
  };
  /** Until the status page shows the device at bitcoind's tip, each watched outpoint confirmed and spent as far as bitcoind has mined. */
  const deviceCaughtUp = async () => {
    let last;
    for (let i = 0; i < 600; i++) {
      last = await status().catch(() => undefined);
      const watched = last?.chain.devices[0]?.status.watched ?? [];
      if (last?.chain.deviceTip === bitcoind.tip && watched.every((w) => JSON.stringify(w) === JSON.stringify(expected(w)))) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`the device did not reach bitcoind's tip ${bitcoind.tip}: ${JSON.stringify(last?.chain)}\n${device.output()}`);
  };
  try {
    const master = exchanges[0]!.client;
    const connections = new Map<string, SyncConnection>();
    const connectionOf = (c: typeof master): SyncConnection => {
      if (c === master || (hex(c.peer) === hex(master.peer) && c.dbid === master.dbid && c.permissions === master.permissions)) return ld.master;
      const key = `${hex(c.peer)}/${c.dbid}/${c.permissions}`;
      let conn = connections.get(key);
      if (!conn) connections.set(key, (conn = ld.hsmfd(c.peer, c.dbid, c.permissions)));
      return conn;
    };
    let initialized = false;
    for (const ex of exchanges) {
      let mined = false;
      while (initialized && bitcoind.tip + 1 < chain.length && (chain[bitcoind.tip + 1]!.block.timestamp + 1) * 1000 <= ex.at) {
        bitcoind.tip++;
        mined = true;
      }
      if (mined) await deviceCaughtUp();
      let reply: Uint8Array;
      try {
        reply = connectionOf(ex.client).request(ex.message);
      } catch (e) {
        assert.fail(`request ${ex.id}: ${(e as Error).message}\n${ld.describeStatus()}\n${ld.output}\ndevice:\n${device.output().split('\n').filter((l) => !l.includes('LED')).join('\n')}`);
      }
      const recorded = decodeReply(ex.reply);
      assert.equal(recorded.kind, 'frame');
      assert.equal(hex(reply), hex((recorded as { frame: Uint8Array }).frame), `request ${ex.id}`);
      initialized = true;
    }
    // bitcoind goes away: the broker says so loudly and goes on answering lightningd (a
    // request sent again gets its recorded reply); back, with blocks mined meanwhile, the
    // device is caught up.
    await bitcoind.down();
    bitcoind.tip = chain.length - 1;
    for (let i = 0; i < 100 && !/chain: bitcoind at .* does not answer/.test(ld.describeStatus()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(ld.describeStatus(), /chain: bitcoind at http:\/\/127\.0\.0\.1:\d+\/ does not answer .*the broker goes on serving lightningd/);
    const again = exchanges.find((ex) => connectionOf(ex.client) === ld.master && ex.message[1] !== 11)!;
    assert.equal(hex(ld.master.request(again.message)), hex((decodeReply(again.reply) as { frame: Uint8Array }).frame));
    await bitcoind.up();
    await deviceCaughtUp();
    assert.match(ld.describeStatus(), /chain: bitcoind at .* answers again/);
  } finally {
    await ld.stop().catch(() => undefined);
    ld.cleanup();
    await device.stop();
    await bitcoind.stop();
  }
  // The device's journal, folded: its tip is the chain's, and each funding confirmed and spent where bitcoinjs-lib finds it.
  const { core } = SignerCore.open(openJournalFiles(new NodeDir(device.dir)), (state) => new Signer({ curve: nobleCurve, developer: false, readHsmSecret: () => hsmSecret }, state));
  const view = core.state.chain!;
  assert.equal(display(tipOf(view).hash), chain.at(-1)!.hash);
  const heights = [...view.outpoints].map(([key, s]) => {
    const txid = display(new Uint8Array(Buffer.from(key.split(':')[0]!, 'hex')));
    const vout = Number(key.split(':')[1]);
    const mined = chain.findIndex((b) => b.block.transactions!.some((t) => t.getId() === txid));
    const spent = chain.findIndex((b) => b.block.transactions!.some((t) => t.ins.some((i) => display(new Uint8Array(i.hash)) === txid && i.index === vout)));
    return [s.confirmed?.height === mined, s.spent?.height === spent];
  });
  assert.deepEqual(heights, [[true, true], [true, true]]);
});

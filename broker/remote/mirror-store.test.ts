/**
 * The broker's mirror store refusing a chain it does not hold (docs/journal.md "Mirror"), with
 * real aedes, the broker's own client, a real broker log and a real LevelDB: a device whose
 * entries do not continue the stored chain (another device with its seed wrote that one) and
 * that sends them again and again gets `gap` every time, while the broker's log says so once,
 * then once per MIRROR_REPORT_MS with how many it left out, then once more when the chain continues.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import test from 'node:test';
import { BrokerLog } from '../../log/broker-log/broker-log.js';
import { GENESIS, makeEntry, type MirrorEntry, positionAfter } from '../../log/mirror/entry.js';
import { decodeAck, encodeJournal, type JournalAck } from '../../log/mirror/messages.js';
import { topic } from '../../signer/remote/topics.js';
import { ID_A, withServer } from '../../test/embedded-mqtt.js';
import { attachMirror } from './mirror-store.js';
import { MIRROR_REPORT_MS } from '../../log/mirror/report-limit.js';

const KEY = new Uint8Array(32).fill(0x41);

/** `n` records of one device's chain; `device` tells two chains of the same seed apart. */
function chain(n: number, device: number): MirrorEntry[] {
  const out: MirrorEntry[] = [];
  let at = GENESIS;
  for (let i = 1; i <= n; i++) {
    const e = makeEntry(KEY, at, 'record', Uint8Array.of(device, i));
    out.push(e);
    at = positionAfter(e);
  }
  return out;
}

test('a chain the broker does not hold, sent again and again: `gap` every time, a bounded number of log lines', async () => {
  await withServer([ID_A], async (server, _lines, dir) => {
    const brokerLog = await BrokerLog.open(join(dir, 'log'));
    // What lightningd shows at its default level (info): the debug line of each stored batch is left out.
    const lines: string[] = [];
    let now = 1_800_000_000_000;
    const mirror = await attachMirror({ mqtt: server.localClient(), brokerLog, dir: join(dir, 'mirror'), log: (level, text) => void (level !== 'debug' && lines.push(`${level}: ${text}`)), now: () => now });
    try {
      const device = server.localClient();
      const acks: JournalAck[] = [];
      device.on('message', (_name, payload) => acks.push(decodeAck(payload)));
      await device.subscribeAsync([topic(ID_A, 'journal-ack')], { qos: 1 });
      const send = async (entries: readonly MirrorEntry[]): Promise<JournalAck> => {
        const before = acks.length;
        await device.publishAsync(topic(ID_A, 'journal'), Buffer.from(encodeJournal(entries)), { qos: 1 });
        for (const end = Date.now() + 5000; acks.length === before && Date.now() < end; ) await new Promise((r) => setTimeout(r, 5));
        assert.equal(acks.length, before + 1, 'acknowledged');
        return acks.at(-1)!;
      };
      const theirs = chain(3, 1);
      const ours = chain(4, 2);
      assert.deepEqual(await send(theirs), { counter: 3n, gap: false });
      const refusalLines = () => lines.filter((l) => /mirror of .*: entry 4 does not continue the stored chain/.test(l));

      for (let i = 0; i < 12; i++) {
        assert.deepEqual(await send(ours.slice(3)), { counter: 3n, gap: true });
        now += 1000;
      }
      assert.equal(refusalLines().length, 1, lines.join('\n'));
      assert.match(refusalLines()[0]!, /^unusual: mirror of [0-9a-f]+: entry 4 does not continue the stored chain \(its previous MAC differs\): another device with this seed, or a forgery; not stored; entries after 3 do not follow the stored chain; asking for them again$/);

      now += MIRROR_REPORT_MS;
      for (let i = 0; i < 3; i++) assert.deepEqual(await send(ours.slice(3)), { counter: 3n, gap: true });
      assert.equal(refusalLines().length, 2, lines.join('\n'));
      assert.match(refusalLines()[1]!, /asking for them again \(and 11 more in the last 612 s, not logged\)$/);

      // The device that wrote the stored chain goes on: its entry is stored, and the two left out are counted.
      const next = makeEntry(KEY, positionAfter(theirs[2]!), 'record', Uint8Array.of(1, 4));
      assert.deepEqual(await send([next]), { counter: 4n, gap: false });
      assert.deepEqual(lines.slice(2), [`unusual: mirror of ${ID_A}: 2 more refused messages were not logged before the chain continued`]);
      assert.equal(lines.length, 3, '15 refusals, 3 lines');
    } finally {
      await mirror.close();
      await brokerLog.close();
    }
  });
});

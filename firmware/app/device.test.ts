/**
 * Device after a restart (docs/remote-protocol.md "Requests", firmware/README.md step 6), with
 * the message order an MQTT server produces when it delivers its queued copies of requests
 * interleaved with the broker's resends (seen with aedes: test/sphinx-signer.test.ts "SIGKILL
 * mid-replay, twice"). Requests and replies are session-basic-l1's, recorded from CLN v25.12.1.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { MemoryDir } from '../../log/memory-file.js';
import { toHex } from '../../signer/bytes.js';
import { nobleCurve } from '../../signer/crypto/noble.js';
import { decodeReplyEnvelope, encodeRequest } from '../../signer/remote/envelope-codec.js';
import { topic } from '../../signer/remote/topics.js';
import { fixturePath } from '../../test/fixtures.js';
import { sessionRequests } from '../../test/session-records.js';
import { loadTranscript } from '../../test/transcript.js';
import { Device } from './device.js';
import type { TimerHandle, TransportHandlers } from './ports.js';

const NAME = 'session-basic-l1.jsonl';
const requests = sessionRequests(NAME);
const secret = Uint8Array.from(loadTranscript(fixturePath(`transcripts/${NAME}`)).header.hsm_secret.match(/../g)!.map((b) => parseInt(b, 16)));

/** A Device on `dir` with a transport that records replies and lets the test deliver requests. */
function bootOn(dir: MemoryDir) {
  const replies: { id: bigint; reply: string }[] = [];
  let handlers: TransportHandlers | undefined;
  const device = Device.boot({
    transport: {
      connect: (_options, h) => void (handlers = h),
      subscribe: async () => {},
      publish: async (name, payload) => {
        if (!name.endsWith('/res')) return;
        const { id, reply } = decodeReplyEnvelope(payload);
        replies.push({ id, reply: reply.kind === 'frame' ? toHex(reply.frame) : reply.kind });
      },
      end: async () => {},
    },
    leds: { show: () => {}, blink: () => {} },
    store: { hsmSecret: () => secret, passphrase: () => undefined, config: () => ({ mqttUrl: 'mqtt://test', brokerId: '00'.repeat(16) }), journalDir: () => dir },
    clock: { now: () => Date.now(), after: () => ({}) as TimerHandle, cancel: () => {} },
    curve: nobleCurve,
    firmware: 'test',
    log: () => {},
  });
  device.start();
  handlers!.connected();
  const deliver = (...indexes: number[]) => {
    for (const i of indexes) handlers!.message(topic(device.deviceId, 'req'), encodeRequest(requests[i]!.envelope));
  };
  return { replies, deliver };
}

test('restart: queued copies interleaved with the resends after init are answered in id order, none refused', () => {
  const dir = new MemoryDir();
  const first = bootOn(dir);
  first.deliver(...Array.from({ length: 10 }, (_, i) => i));
  assert.equal(first.replies.length, 10);

  const again = bootOn(dir);
  // Queued copies of 11..13 before init: held back. The init resent first (its journaled id).
  // Then a queued copy of 14 comes before the resends of 11..13: it must wait for them, else
  // 11..13 would fall below the journal's last id and be refused for good.
  again.deliver(10, 11, 12, 0, 13, 10, 11, 12, 13, 14);
  assert.deepEqual(
    again.replies.map((r) => r.id),
    [1n, 11n, 12n, 13n, 14n, 15n],
  );
  for (const { id, reply } of again.replies) assert.equal(reply, requests[Number(id) - 1]!.exchange.rep, `id ${id}`);
});

/**
 * MqttWriteQueue against a socket that takes only what it has room for, as Moddable's MQTT
 * client does (SDK 8.2.3 mqttclient.js: "overflow" when a PUBLISH's header and first fragment
 * do not fit; later fragments only while that PUBLISH is unfinished; no other packet meanwhile).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MqttWriteQueue, publishHeaderBytes, subscribeBytes, type OutgoingPacket, type PacketWriter, type PublishPacket } from './mqtt-write-queue.js';

/** A socket with `room` bytes free; records each packet as it was written. */
class RoomSocket implements PacketWriter {
  room = 0;
  readonly packets: { packet: OutgoingPacket; bytes: number[] }[] = [];
  #open: { packet: PublishPacket; bytes: number[] } | undefined;

  #take(bytes: number): number {
    if (bytes > this.room) throw new Error('overflow');
    this.room -= bytes;
    return this.room;
  }

  startPublish(packet: PublishPacket, first: Uint8Array): number {
    assert.equal(this.#open, undefined, 'a PUBLISH starts while another is unfinished');
    const room = this.#take(publishHeaderBytes(packet) + first.length);
    const entry = { packet, bytes: [...first] };
    this.packets.push(entry);
    if (first.length < packet.payload.length) this.#open = entry;
    return room;
  }

  continuePublish(fragment: Uint8Array): number {
    const open = this.#open;
    assert.ok(open, 'a fragment with no PUBLISH started');
    const room = this.#take(fragment.length);
    open.bytes.push(...fragment);
    if (open.bytes.length === open.packet.payload.length) this.#open = undefined;
    return room;
  }

  subscribe(packet: OutgoingPacket & { kind: 'subscribe' }): number {
    assert.equal(this.#open, undefined, 'a SUBSCRIBE while a PUBLISH is unfinished');
    const room = this.#take(subscribeBytes(packet));
    this.packets.push({ packet, bytes: [] });
    return room;
  }
}

const publish = (payload: Uint8Array, qos: 0 | 1, id: number): PublishPacket => ({ kind: 'publish', topic: 'sphinx/journal', payload, qos, retain: false, id });

test('payloads larger than the socket are written whole, in order, in fragments that fit', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.integer({ min: 0, max: 9_000 }), fc.constant(-1)), { minLength: 1, maxLength: 12 }),
      fc.array(fc.integer({ min: 0, max: 3_000 }), { minLength: 1, maxLength: 40 }),
      (sizes, drains) => {
        const socket = new RoomSocket();
        const queue = new MqttWriteQueue(socket, (e) => assert.fail(`failed: ${e.message}`));
        const expected: OutgoingPacket[] = sizes.map((size, i) =>
          size < 0 ? { kind: 'subscribe', topics: ['sphinx/req', 'sphinx/ctl'], id: i + 1 } : publish(Uint8Array.from({ length: size }, (_, at) => (at * 7 + i) & 0xff), i % 2 === 0 ? 1 : 0, i + 1),
        );
        const written: number[] = [];
        expected.forEach((packet, i) => queue.push(packet, () => written.push(i)));
        // The socket drains as the property says, then enough to finish.
        for (const room of [...drains, ...expected.map(() => 10_000)]) {
          socket.room = room;
          queue.writable(room);
        }
        assert.equal(queue.length, 0);
        assert.deepEqual(written, expected.map((_, i) => i));
        assert.deepEqual(socket.packets.map((p) => p.packet), expected);
        for (const { packet, bytes } of socket.packets) if (packet.kind === 'publish') assert.deepEqual(bytes, [...packet.payload]);
      },
    ),
    { numRuns: 200 },
  );
});

test('nothing is written before the client reports room (after CONNACK)', () => {
  const socket = new RoomSocket();
  const queue = new MqttWriteQueue(socket, () => assert.fail());
  let done = false;
  queue.push(publish(new Uint8Array(10), 1, 1), () => (done = true));
  assert.equal(socket.packets.length, 0);
  socket.room = 100;
  queue.writable(100);
  assert.equal(done, true);
  assert.equal(socket.room, 100 - publishHeaderBytes(publish(new Uint8Array(10), 1, 1)) - 10);
});

test('a write that throws ends the connection: the error is reported and the queue dropped', () => {
  const writer: PacketWriter = {
    startPublish: () => {
      throw new Error('socket closed');
    },
    continuePublish: () => 0,
    subscribe: () => 0,
  };
  const errors: string[] = [];
  const queue = new MqttWriteQueue(writer, (e) => errors.push(e.message));
  queue.push(publish(new Uint8Array(3), 0, 0), () => assert.fail('not written'));
  queue.push(publish(new Uint8Array(3), 0, 0), () => assert.fail('not written'));
  queue.writable(1_000);
  assert.deepEqual(errors, ['socket closed']);
  assert.equal(queue.length, 0);
});

test('header sizes follow MQTT 3.1.1 (Remaining Length of 1 to 3 bytes, QoS 1 packet id)', () => {
  // Fixed header 1 + Remaining Length + topic (2 + 14) + packet id 2.
  assert.equal(publishHeaderBytes(publish(new Uint8Array(100), 1, 1)), 1 + 1 + 16 + 2);
  assert.equal(publishHeaderBytes(publish(new Uint8Array(200), 0, 0)), 1 + 2 + 16);
  assert.equal(publishHeaderBytes(publish(new Uint8Array(20_000), 1, 1)), 1 + 3 + 16 + 2);
  // 1 + 1 + id 2 + ("a": 2 + 1 + QoS 1).
  assert.equal(subscribeBytes({ kind: 'subscribe', topics: ['a'], id: 1 }), 1 + 1 + 2 + 4);
});

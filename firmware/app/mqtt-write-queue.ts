/**
 * The device's outgoing MQTT packets, written as the socket drains. Moddable's ECMA-419 MQTT
 * client (SDK 8.2.3) writes a PUBLISH only if its header and first fragment fit in what the
 * socket can take at that moment, and throws "overflow" otherwise; the rest of the payload it
 * takes in later writes, while no other packet may start. Behind the real broker a journal
 * mirror entry outgrew the socket and the device stopped answering (docs/device-memory.md
 * "Built by mcconfig"). So every packet waits here, in order, and is written in fragments no
 * larger than the room the client last reported (its return value and onWritable).
 *
 * Platform-neutral (firmware/moddable/mqtt-transport.ts gives it the client), tested on Node in
 * mqtt-write-queue.test.ts.
 */
import { utf8 } from '../../signer/bytes.js';

export interface PublishPacket {
  readonly kind: 'publish';
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: 0 | 1;
  readonly retain: boolean;
  /** Packet id (QoS 1); 0 for QoS 0. */
  readonly id: number;
}

export interface SubscribePacket {
  readonly kind: 'subscribe';
  readonly topics: readonly string[];
  readonly id: number;
}

export type OutgoingPacket = PublishPacket | SubscribePacket;

/** The client's writes; each returns the room left (bytes the socket takes now). */
export interface PacketWriter {
  /** A PUBLISH's header and its first `first.length` bytes, announcing the whole payload's length. */
  startPublish(packet: PublishPacket, first: Uint8Array): number;
  /** The next fragment of the PUBLISH being written. */
  continuePublish(fragment: Uint8Array): number;
  subscribe(packet: SubscribePacket): number;
}

/** MQTT 3.1.1 §2.2.3: bytes of the Remaining Length field for `length`. */
const remainingLengthBytes = (length: number): number => (length < 128 ? 1 : length < 16_384 ? 2 : length < 2_097_152 ? 3 : 4);

/** A PUBLISH's bytes before its payload: fixed header, topic (length-prefixed) and, for QoS 1, the packet id. */
export function publishHeaderBytes(packet: PublishPacket): number {
  const variable = 2 + utf8(packet.topic).length + (packet.qos === 1 ? 2 : 0);
  return 1 + remainingLengthBytes(variable + packet.payload.length) + variable;
}

/** A SUBSCRIBE's bytes: fixed header, packet id, each topic length-prefixed with its QoS byte. */
export function subscribeBytes(packet: SubscribePacket): number {
  const body = 2 + packet.topics.reduce((n, topic) => n + 2 + utf8(topic).length + 1, 0);
  return 1 + remainingLengthBytes(body) + body;
}

interface Queued {
  readonly packet: OutgoingPacket;
  /** Called once the whole packet is written (a QoS 1 PUBLISH is then waiting for its PUBACK). */
  readonly written: () => void;
}

export class MqttWriteQueue {
  readonly #queue: Queued[] = [];
  /** Room the client last reported; 0 until it says (after CONNACK). */
  #room = 0;
  /** Payload bytes of the head PUBLISH already written; undefined while it has not started. */
  #sent: number | undefined;
  /** True while writing: room reported meanwhile is taken by that loop, not by a second one. */
  #pumping = false;

  /** `failed` ends the connection: a throw mid-packet leaves the stream unusable. */
  constructor(
    private readonly writer: PacketWriter,
    private readonly failed: (error: Error) => void,
  ) {}

  /** Packets waiting or being written. */
  get length(): number {
    return this.#queue.length;
  }

  push(packet: OutgoingPacket, written: () => void): void {
    this.#queue.push({ packet, written });
    this.#pump();
  }

  /** The client's onWritable: the socket takes `room` bytes now. */
  writable(room: number): void {
    this.#room = room;
    this.#pump();
  }

  /** Drops every packet (the connection ended); their owners are told by the transport. */
  clear(): void {
    this.#queue.length = 0;
    this.#sent = undefined;
    this.#room = 0;
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0) {
        const head = this.#queue[0]!;
        if (!this.#advance(head.packet)) return;
        this.#queue.shift();
        this.#sent = undefined;
        head.written();
      }
    } catch (e) {
      this.clear();
      this.failed(e instanceof Error ? e : new Error(String(e)));
    } finally {
      this.#pumping = false;
    }
  }

  /** Writes what fits of `packet`; true once all of it is written. */
  #advance(packet: OutgoingPacket): boolean {
    if (packet.kind === 'subscribe') {
      if (subscribeBytes(packet) > this.#room) return false;
      this.#room = this.writer.subscribe(packet);
      return true;
    }
    const { payload } = packet;
    if (this.#sent === undefined) {
      const first = Math.min(payload.length, this.#room - publishHeaderBytes(packet));
      // Wait for room for the header and a byte of payload (all of an empty one).
      if (first < 0 || (first === 0 && payload.length > 0)) return false;
      this.#room = this.writer.startPublish(packet, payload.subarray(0, first));
      this.#sent = first;
    }
    while (this.#sent < payload.length) {
      const next = Math.min(this.#room, payload.length - this.#sent);
      if (next <= 0) return false;
      this.#room = this.writer.continuePublish(payload.subarray(this.#sent, this.#sent + next));
      this.#sent += next;
    }
    return true;
  }
}

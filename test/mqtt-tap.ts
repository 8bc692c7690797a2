/**
 * A TCP relay between a device and the broker's MQTT port that keeps the first packet the
 * device sends (its CONNECT, with the login token), as anyone on the path sees it. It runs on
 * a worker thread: the simulated lightningd blocks the main thread while it waits for a reply
 * (test/sync-wire.ts), and the device's traffic must flow meanwhile.
 */
import net from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

/** What a CONNECT (MQTT 3.1.1 or 5) says about who connects. */
export interface ConnectLogin {
  readonly clientId: string;
  readonly username: string;
  readonly password: string;
}

export class MqttTap {
  readonly #first: Promise<Uint8Array>;

  private constructor(readonly worker: Worker, readonly port: number) {
    this.#first = new Promise((resolve) => worker.on('message', (m: { connect?: Uint8Array }) => m.connect && resolve(m.connect)));
  }

  /** Listens on a free port of 127.0.0.1 and relays every connection to 127.0.0.1:`target`. */
  static async start(target: number): Promise<MqttTap> {
    const worker = new Worker(new URL(import.meta.url), { workerData: { mqttTap: { target } } });
    const port = await new Promise<number>((resolve, reject) => {
      worker.once('message', (m: { port: number }) => resolve(m.port));
      worker.once('error', reject);
    });
    return new MqttTap(worker, port);
  }

  /** The login of the first CONNECT relayed. */
  async firstLogin(): Promise<ConnectLogin> {
    return readConnect(await this.#first);
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

/** The remaining length at `at` (1..4 bytes of 7 bits) and where what it counts begins. */
function varint(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  for (let i = 0; i < 4; i++) {
    const byte = bytes[at + i]!;
    value += (byte & 0x7f) * 128 ** i;
    if (!(byte & 0x80)) return [value, at + i + 1];
  }
  throw new Error('remaining length longer than 4 bytes');
}

/** Client id, username and password of a whole CONNECT packet (MQTT 3.1.1 §3.1; 5 §3.1 adds properties). */
export function readConnect(packet: Uint8Array): ConnectLogin {
  if (packet[0] !== 0x10) throw new Error(`not a CONNECT: type byte 0x${packet[0]?.toString(16)}`);
  let at = varint(packet, 1)[1];
  const field = (): Uint8Array => {
    const length = (packet[at]! << 8) | packet[at + 1]!;
    at += 2 + length;
    return packet.subarray(at - length, at);
  };
  const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');
  field(); // protocol name
  const level = packet[at++]!;
  const flags = packet[at++]!;
  at += 2; // keep alive
  const skipProperties = (): void => {
    const [length, start] = varint(packet, at);
    at = start + length;
  };
  if (level === 5) skipProperties();
  const clientId = text(field());
  if (flags & 0x04) {
    if (level === 5) skipProperties();
    field(); // will topic
    field(); // will payload
  }
  const username = flags & 0x80 ? text(field()) : '';
  const password = flags & 0x40 ? text(field()) : '';
  return { clientId, username, password };
}

if (!isMainThread && (workerData as { mqttTap?: { target: number } } | null)?.mqttTap) {
  const { target } = (workerData as { mqttTap: { target: number } }).mqttTap;
  let told = false;
  const server = net.createServer((device) => {
    const broker = net.connect(target, '127.0.0.1');
    let head = Buffer.alloc(0);
    device.on('data', (chunk: Buffer) => {
      if (told) return;
      head = Buffer.concat([head, chunk]);
      if (head.length < 2) return;
      const [length, start] = varint(head, 1);
      if (head.length < start + length) return;
      told = true;
      parentPort!.postMessage({ connect: new Uint8Array(head.subarray(0, start + length)) });
    });
    device.pipe(broker).pipe(device);
    for (const [a, b] of [[device, broker], [broker, device]] as const) {
      a.on('error', () => b.destroy());
      a.on('close', () => b.destroy());
    }
  });
  server.listen(0, '127.0.0.1', () => parentPort!.postMessage({ port: (server.address() as net.AddressInfo).port }));
}

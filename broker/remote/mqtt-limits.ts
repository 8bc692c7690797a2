/**
 * Memory limits of the embedded MQTT server, before and after authentication (docs/
 * remote-protocol.md "Limits"). aedes' parser (mqtt-packet) keeps every byte of a packet until
 * the length its fixed header announces has arrived, with no upper bound, and a client that
 * never authenticates is dropped only by the connect timeout: four sockets announcing 256 MiB
 * held +805 MiB. So every socket passes through a gate that follows the MQTT framing (fixed
 * header: type byte, remaining length in 1..4 bytes of 7 bits) without buffering anything,
 * and closes the socket:
 * - before authentication: at a packet announcing more than PRE_AUTH_MAX_PACKET, or after
 *   PRE_AUTH_BUDGET bytes in all (a CONNECT with a token is a few hundred bytes);
 * - after a device authenticated: at a packet announcing more than DEVICE_MAX_PACKET
 *   (hsmd replies are signatures and PSBTs; the broker's own client is not limited).
 * `MqttGate` is the pure part; `gatedStream` puts it between a socket and aedes.
 */
import { Duplex } from 'node:stream';
import type net from 'node:net';

export const PRE_AUTH_MAX_PACKET = 16 * 1024;
export const PRE_AUTH_BUDGET = 64 * 1024;
export const DEVICE_MAX_PACKET = 4 * 1024 * 1024;
/** Sockets open at once (devices, the broker's own client, and whoever is trying). */
export const MAX_CONNECTIONS = 64;
/**
 * Sockets not yet authenticated. A new one beyond this closes the oldest of them rather than
 * being refused: whoever holds idle sockets open cannot keep a device from reconnecting, as
 * a device authenticates within moments of connecting.
 */
export const MAX_WAITING = 32;
/**
 * The longest client id: a device id (66 hex digits) and a suffix (`-restore`, `-spare`). aedes'
 * own maxClientsIdLength applies to MQTT 3.1 only, so the server checks it for every version.
 */
export const MAX_CLIENT_ID_LENGTH = 80;
/** A client that has not authenticated by then is dropped (aedes connectTimeout). */
export const CONNECT_TIMEOUT_MS = 10_000;

export type GateVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Follows the packet boundaries of one MQTT byte stream and checks each announced length. */
export class MqttGate {
  /** 0: at a packet's type byte; 1..4: reading its remaining length; 'body': inside it. */
  #state: number | 'body' = 0;
  #length = 0;
  #bodyLeft = 0;
  #seen = 0;
  /** undefined: not authenticated; a number: the packet limit after authentication. */
  #limitAfterAuth: number | undefined;

  /** True once the client authenticated: what it says about itself is then verified. */
  get isAuthenticated(): boolean {
    return this.#limitAfterAuth !== undefined;
  }

  /** The client authenticated: its packets may be up to `maxPacket` (Infinity: no limit). */
  authenticated(maxPacket: number): void {
    this.#limitAfterAuth = maxPacket;
  }

  feed(chunk: Uint8Array): GateVerdict {
    if (this.#limitAfterAuth === undefined) {
      this.#seen += chunk.length;
      if (this.#seen > PRE_AUTH_BUDGET) return { ok: false, reason: `more than ${PRE_AUTH_BUDGET} bytes before authenticating` };
    }
    let i = 0;
    while (i < chunk.length) {
      if (this.#state === 'body') {
        const take = Math.min(this.#bodyLeft, chunk.length - i);
        this.#bodyLeft -= take;
        i += take;
        if (this.#bodyLeft === 0) this.#state = 0;
        continue;
      }
      const byte = chunk[i++]!;
      if (this.#state === 0) {
        this.#state = 1;
        this.#length = 0;
        continue;
      }
      this.#length += (byte & 0x7f) * 128 ** (this.#state - 1);
      if (byte & 0x80) {
        if (this.#state === 4) return { ok: false, reason: 'a remaining length longer than 4 bytes (MQTT 3.1.1 §2.2.3)' };
        this.#state++;
        continue;
      }
      const limit = this.#limitAfterAuth ?? PRE_AUTH_MAX_PACKET;
      if (this.#length > limit) {
        const when = this.#limitAfterAuth === undefined ? 'before authenticating' : 'from a device';
        return { ok: false, reason: `a packet of ${this.#length} bytes ${when} (limit ${limit})` };
      }
      this.#bodyLeft = this.#length;
      this.#state = this.#length === 0 ? 0 : 'body';
    }
    return { ok: true };
  }
}

/**
 * `socket` as aedes should see it: the same bytes both ways, but the incoming ones through
 * `gate`; a refusal destroys the socket (`onRefused` says why) before aedes sees the bytes.
 */
export function gatedStream(socket: net.Socket, gate: MqttGate, onRefused: (reason: string) => void): Duplex {
  const stream = new Duplex({
    read: () => void socket.resume(),
    write: (chunk: Buffer, _encoding, done) => void socket.write(chunk, done),
    // aedes writes a packet as several chunks into a corked stream: one socket write for
    // them all, not a system call per chunk (they were most of the broker's time per request).
    writev: (chunks: { chunk: Buffer }[], done) => void socket.write(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)), done),
    final: (done) => void socket.end(done),
    destroy: (error, done) => {
      socket.destroy();
      done(error);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    const verdict = gate.feed(chunk);
    if (!verdict.ok) {
      onRefused(verdict.reason);
      socket.destroy();
      return;
    }
    if (!stream.push(chunk)) socket.pause();
  });
  socket.on('end', () => stream.push(null));
  socket.on('close', () => stream.destroy());
  socket.on('error', (e) => stream.destroy(e));
  return stream;
}

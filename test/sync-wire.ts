/**
 * A blocking hsmd connection as lightningd and the subdaemons hold it: wire_sync_write /
 * wire_sync_read on a raw descriptor (wire/wire_sync.c), one request then one reply.
 * Reads wait with poll() so a missing reply is a test failure, not a hang.
 */
import { closeSync, readSync, writeSync } from 'node:fs';
import { fdpass } from '../broker/fdpass.js';

/** No reply (or descriptor) within the time allowed. */
export class Timeout extends Error {
  override readonly name = 'Timeout';
}

/** The other side closed the connection. */
export class Closed extends Error {
  override readonly name = 'Closed';
}

export const DEFAULT_TIMEOUT_MS = 10_000;

const asBytes = (m: Uint8Array | string): Uint8Array => (typeof m === 'string' ? Buffer.from(m, 'hex') : m);

export class SyncConnection {
  private open = true;

  constructor(
    /** The raw descriptor (blocking). */
    readonly fd: number,
    readonly timeoutMs: number = DEFAULT_TIMEOUT_MS,
  ) {}

  /** wire_sync_write: the u32 length and the body. */
  send(body: Uint8Array | string): void {
    const bytes = asBytes(body);
    const out = Buffer.allocUnsafe(4 + bytes.length);
    out.writeUInt32BE(bytes.length, 0);
    out.set(bytes, 4);
    this.writeAll(out);
  }

  /** Writes raw bytes (for malformed frames). */
  writeAll(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done);
  }

  /** wire_sync_read: one frame body. */
  receive(timeoutMs: number = this.timeoutMs): Uint8Array {
    const deadline = Date.now() + timeoutMs;
    const header = this.readExact(4, deadline);
    return this.readExact(header.readUInt32BE(0), deadline);
  }

  /** send + receive, as hsm_sync_req does. */
  request(body: Uint8Array | string, timeoutMs?: number): Uint8Array {
    this.send(body);
    return this.receive(timeoutMs);
  }

  /** fdpass_recv: the descriptor hsmd passes after hsmd_client_hsmfd_reply. */
  receiveFd(timeoutMs: number = this.timeoutMs): number {
    try {
      return fdpass.recvFd(this.fd, timeoutMs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ETIMEDOUT') throw new Timeout((err as Error).message);
      throw err;
    }
  }

  /** True once there is something to read (data or EOF), waiting at most `timeoutMs`. */
  readable(timeoutMs: number): boolean {
    return fdpass.poll(this.fd, false, timeoutMs);
  }

  /** True if the peer closes the connection (EOF) within the time, with no data first. */
  waitClosed(timeoutMs: number = this.timeoutMs): boolean {
    try {
      this.receive(timeoutMs);
      return false;
    } catch (err) {
      if (err instanceof Closed) return true;
      if (err instanceof Timeout) return false;
      throw err;
    }
  }

  close(): void {
    if (this.open) closeSync(this.fd);
    this.open = false;
  }

  private readExact(n: number, deadline: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const left = deadline - Date.now();
      if (left <= 0 || !fdpass.poll(this.fd, false, left)) throw new Timeout(`no reply within the time (${got}/${n} bytes)`);
      let r: number;
      try {
        r = readSync(this.fd, out, got, n - got, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ECONNRESET') throw new Closed('connection reset');
        throw err;
      }
      if (r === 0) throw new Closed('connection closed');
      got += r;
    }
    return out;
  }
}

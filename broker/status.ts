/**
 * The status channel: hsmd's write-only socket to lightningd on fd 0 (docs/hsmd-protocol.md#status-channel).
 * CLN's hsmd writes it through an async daemon_conn; so do we, through a net.Socket, so
 * a slow lightningd never stalls request handling. Messages are queued and written together
 * on the next timer turn, after the reply that the request's log line precedes has left: a
 * debug line per request ("Received message") then costs no system call on the reply path.
 * Write errors are swallowed: when the status socket breaks, lightningd is gone and the
 * master socket tells us so (exit 2).
 */
import net from 'node:net';
import { frame } from './frames.js';
import {
  type FailReason,
  type LogLevel,
  towireClientBadRequest,
  towireStatusFail,
  towireStatusLog,
  towireStatusVersion,
} from './status-wire.js';

/** Peerless log lines kept encoded (the first ones seen; enough for one per request type). */
const REPEATED_LINES = 512;

export class StatusChannel {
  private broken = false;
  /** Framed messages not written yet, in order. */
  private queued: Buffer[] = [];
  private writeTimer: NodeJS.Timeout | undefined;
  /** Encoded status_log messages of lines without a peer, up to REPEATED_LINES of them. */
  private readonly repeated = new Map<string, Uint8Array>();

  constructor(private readonly socket: net.Socket) {
    socket.on('error', () => {
      this.broken = true;
    });
  }

  /** The channel on an inherited descriptor (fd 0 under lightningd). */
  static open(fd: number): StatusChannel {
    return new StatusChannel(new net.Socket({ fd, readable: false, writable: true }));
  }

  /** status_version: CLN sends it first thing (status_setup_async), so must we. */
  version(version: string): void {
    this.send(towireStatusVersion(version));
  }

  log(level: LogLevel, entry: string, peer: Uint8Array | null = null): void {
    if (peer !== null) return this.send(towireStatusLog(level, peer, entry));
    // Most lines repeat (a debug line per request names only its type): encoded once each.
    const key = `${level} ${entry}`;
    let body = this.repeated.get(key);
    if (body === undefined) {
      body = towireStatusLog(level, null, entry);
      if (this.repeated.size < REPEATED_LINES) this.repeated.set(key, body);
    }
    this.send(body);
  }

  /** hsmstatus_client_bad_request: lightningd logs it as BROKEN (hsm_control.c hsm_msg). */
  clientBadRequest(id: Uint8Array, description: string, msg: Uint8Array): void {
    this.send(towireClientBadRequest(id, description, msg));
  }

  /** status_fail, then resolves once everything queued has reached the socket (or broke). */
  fail(reason: FailReason, desc: string): Promise<void> {
    this.send(towireStatusFail(reason, desc));
    return this.flush();
  }

  /** Resolves when every message sent so far has been handed to the kernel. */
  flush(): Promise<void> {
    this.writeQueued();
    if (this.broken || this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.write(new Uint8Array(0), () => resolve());
    });
  }

  private send(body: Uint8Array): void {
    if (this.broken || this.socket.destroyed) return;
    this.queued.push(frame(body));
    this.writeTimer ??= setTimeout(() => this.writeQueued(), 0);
  }

  /** One write for everything queued. */
  private writeQueued(): void {
    clearTimeout(this.writeTimer);
    this.writeTimer = undefined;
    const chunks = this.queued;
    this.queued = [];
    if (chunks.length === 0 || this.broken || this.socket.destroyed) return;
    this.socket.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  }
}

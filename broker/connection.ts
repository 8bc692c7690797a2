/**
 * One hsmd connection (the master on fd 3, or a client socket we created): reads request
 * frames and writes replies, strictly one request at a time. hsmd.c req_reply reads the
 * next request only after the reply is written; `serve` does the same, so replies leave
 * in request order and the peer's socket buffer throttles a client that runs ahead.
 */
import type net from 'node:net';
import { FrameReader, frame } from './frames.js';

/** Why a connection stopped being served. */
export type ConnectionEnd =
  | { kind: 'eof' }
  | { kind: 'closed' } // we closed it (bad request, replaced by a newer client)
  | { kind: 'error'; error: Error }; // broken framing or a socket error

export class Connection {
  private readonly reader: FrameReader;
  private closedByUs = false;

  constructor(readonly socket: net.Socket) {
    this.reader = new FrameReader(socket);
    // Errors surface through the reader; this listener keeps them from being uncaught.
    socket.on('error', () => {});
  }

  get closed(): boolean {
    return this.closedByUs || this.socket.destroyed;
  }

  /** Writes one reply frame; resolves once it has been handed to the kernel. */
  reply(body: Uint8Array): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.write(frame(body), () => resolve());
    });
  }

  /** Closes the connection: the peer reads EOF (ccan/io io_close). */
  close(): void {
    this.closedByUs = true;
    this.socket.destroy();
  }

  /**
   * Reads requests and awaits `handle` for each before reading the next, until the peer
   * closes, we close, or the framing breaks; the socket is destroyed when it returns.
   * `handle` must not throw. Sockets should be half-open (allowHalfOpen) so a request
   * followed by EOF still gets its reply, as with CLN.
   */
  async serve(handle: (request: Uint8Array) => Promise<void>): Promise<ConnectionEnd> {
    for (;;) {
      let request: Uint8Array | null;
      try {
        request = await this.reader.read();
      } catch (error) {
        if (this.closedByUs) return { kind: 'closed' };
        this.close();
        return { kind: 'error', error: error as Error };
      }
      if (this.closedByUs) return { kind: 'closed' };
      if (request === null) {
        this.socket.destroy();
        return { kind: 'eof' };
      }
      await handle(request);
      if (this.closedByUs) return { kind: 'closed' };
      if (this.socket.destroyed) return { kind: 'eof' };
    }
  }
}

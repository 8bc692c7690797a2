/**
 * Typed access to the fd-passing addon (native/fdpass.c, built into build/Release by
 * `npm ci`). Node cannot pass descriptors over a plain stream socket, create a raw
 * socketpair, or read O_NONBLOCK; this addon does exactly that (docs/hsmd-protocol.md#framing, docs/hsmd-protocol.md#client-sockets).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface FdPass {
  /** AF_UNIX stream pair, blocking, close-on-exec. */
  socketpair(): [number, number];
  /** One data byte 0x00 carrying `fd` as SCM_RIGHTS (ccan/fdpass format); waits out EAGAIN. */
  sendFd(sock: number, fd: number): void;
  /** The descriptor `sendFd` (or ccan/fdpass) sent; throws ETIMEDOUT, EPIPE or EPROTO. */
  recvFd(sock: number, timeoutMs: number): number;
  /** Clears (true) or sets (false) O_NONBLOCK on the open file description. */
  setBlocking(fd: number, blocking: boolean): void;
  /** True if `fd` becomes readable (or writable) within `timeoutMs` (-1: wait forever). */
  poll(fd: number, writable: boolean, timeoutMs: number): boolean;
}

// This module runs as dist/broker/fdpass.js: the repository root is two levels up.
const addonPath = join(fileURLToPath(import.meta.url), '..', '..', '..', 'build', 'Release', 'fdpass.node');

/** The loaded addon. */
export const fdpass: FdPass = createRequire(import.meta.url)(addonPath) as FdPass;

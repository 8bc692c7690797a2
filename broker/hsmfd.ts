/**
 * hsmd_client_hsmfd (9), which the broker answers itself: lightningd asks for a new
 * socket for a subdaemon with (id, dbid, permissions); we create a socketpair, keep one
 * end as a new client, reply hsmd_client_hsmfd_reply (109, empty) on the master and then
 * pass the other end with SCM_RIGHTS (hsmd.c pass_client_hsmfd).
 */
import { closeSync } from 'node:fs';
import net from 'node:net';
import type { ClientContext } from '../signer/envelope.js';
import { WireError } from '../signer/wire/errors.js';
import { decodeAs, encodeMessage, messageType } from '../signer/wire/messages.js';
import type { Connection } from './connection.js';
import { fdpass } from './fdpass.js';
import { fastCurve } from '../node/curve-native.js';

export const WIRE_HSMD_CLIENT_HSMFD = messageType('hsmd_client_hsmfd');

/** hsmd_client_hsmfd_reply: the type alone (on the wire `00000002 006d`). */
const CLIENT_HSMFD_REPLY = encodeMessage('hsmd_client_hsmfd_reply', {});

/** hsmd_client_hsmfd {id node_id, dbid u64, permissions u64}, or null if it does not decode (trailing bytes are ignored, as fromwire_ does). */
export function fromwireClientHsmfd(message: Uint8Array): ClientContext | null {
  try {
    const { id, dbid, permissions } = decodeAs('hsmd_client_hsmfd', message);
    return { peer: id.slice(), dbid, permissions };
  } catch (e) {
    if (e instanceof WireError) return null;
    throw e;
  }
}

/** hsmd_client_hsmfd with these fields (lightningd's side; used by tests and tools). */
export const towireClientHsmfd = (client: ClientContext): Uint8Array =>
  encodeMessage('hsmd_client_hsmfd', { id: client.peer, dbid: client.dbid, permissions: client.permissions });

/** node_id_valid (common/node_id.c): the 33 bytes parse as a compressed secp256k1 point. */
export const isValidNodeId = (id: Uint8Array): boolean => fastCurve().isCompressedPoint(id);

/** A new socketpair: our end wrapped as a socket, their end as a raw (blocking) fd. */
export function newClientSocketpair(): { ours: net.Socket; theirs: number } {
  const [ours, theirs] = fdpass.socketpair();
  // Only our end goes to libuv (which makes it non-blocking). O_NONBLOCK lives on the open
  // file description, and the two ends are separate ones, so `theirs` stays blocking, as
  // subdaemons' wire_sync_read/write require (docs/hsmd-protocol.md#framing: EAGAIN counts as failure there).
  const socket = new net.Socket({ fd: ours, readable: true, writable: true, allowHalfOpen: true });
  return { ours: socket, theirs };
}

/**
 * Replies 109 on the master and, once that reply is in the kernel, sends `theirs` over
 * `masterFd` and closes our copy (io_send_fd(conn, fd, true, ...)). lightningd reads the
 * reply with exact-length reads and then does fdpass_recv, so this order is the protocol.
 */
export async function passClientFd(master: Connection, masterFd: number, theirs: number): Promise<void> {
  try {
    await master.reply(CLIENT_HSMFD_REPLY);
    if (!master.closed) fdpass.sendFd(masterFd, theirs);
  } finally {
    closeSync(theirs);
  }
}

/**
 * What happens to one request on one connection (hsmd.c handle_client, bad_req_fmt):
 * 1. the permission gate (libhsmd.c hsmd_check_client_capabilities), which also refuses
 *    reply types and unknown types;
 * 2. hsmd_client_hsmfd is answered here (it creates a connection);
 * 3. everything else goes to the signer as an Envelope; its reply is written back, or
 *    none for hsmd_dev_preinit.
 * A bad request closes a client (hsmstatus_client_bad_request on fd 0) and is fatal on
 * the master. docs/hsmd-protocol.md#client-sockets, docs/hsmd-protocol.md#permissions.
 */
import type net from 'node:net';
import { isRefusedPreapproval, messageName, policyRefusalOf } from '../projections/records.js';
import type { ClientContext } from '../signer/envelope.js';
import { mayRequest, type RequestName } from '../signer/permissions.js';
import { messageType, requestType } from '../signer/wire/messages.js';
import type { Client } from './clients.js';
import type { Connection } from './connection.js';
import {
  WIRE_HSMD_CLIENT_HSMFD,
  fromwireClientHsmfd,
  isValidNodeId,
  newClientSocketpair,
  passClientFd,
} from './hsmfd.js';
import type { Logger } from './log.js';
import type { SignerPort } from './signer-port.js';
import type { StatusChannel } from './status.js';
import type { FailReason } from './status-wire.js';

/** Requests hsmd.c handles itself; libhsmd logs "Received message" for all the others. */
const HANDLED_BY_HSMD_C: ReadonlySet<number> = new Set(
  (['hsmd_init', 'hsmd_dev_preinit', 'hsmd_check_bip86_pubkey', 'hsmd_dev_memleak'] as const satisfies readonly RequestName[]).map(messageType),
);

export interface RouterDeps {
  /** Where requests go; only request() is used here. */
  port: Pick<SignerPort, 'request'>;
  /** Where a client's bad request is reported (hsmstatus_client_bad_request). */
  status: Pick<StatusChannel, 'clientBadRequest'>;
  log: Logger;
  /** The master's raw descriptor, for SCM_RIGHTS (REQ_FD = 3). */
  masterFd: number;
  /** Unix seconds for the envelope (the signer has no clock). */
  now: () => number;
  /** Registers and starts serving a client connection created by hsmd_client_hsmfd. */
  startClient: (socket: net.Socket, context: ClientContext) => void;
  /** status_fail (none if null: a clean exit), then exit; never resolves. */
  fatal: (reason: FailReason | null, desc: string) => Promise<void>;
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

export class Router {
  constructor(private readonly deps: RouterDeps) {}

  /** Handles one request completely (reply written, or connection closed). Never throws. */
  async handle(client: Client, conn: Connection, message: Uint8Array): Promise<void> {
    try {
      await this.route(client, conn, message);
    } catch (err) {
      // Our own bug, not the peer's: keep the process up (the broker never gives up on
      // lightningd). A client is closed so its daemon fails instead of hanging.
      if (!client.isMaster) return this.badRequest(client, conn, message, `internal error: ${describe(err)}`);
      this.deps.log.log('broken', `request ${requestType(message)} from lightningd failed: ${describe(err)}; it gets no reply`);
    }
  }

  private async route(client: Client, conn: Connection, message: Uint8Array): Promise<void> {
    const type = requestType(message);
    if (!mayRequest(client.context.permissions, type)) {
      return this.badRequest(client, conn, message, `client does not have capability to run ${type}`);
    }
    if (type === WIRE_HSMD_CLIENT_HSMFD) return this.clientHsmfd(client, conn, message);

    if (!HANDLED_BY_HSMD_C.has(type)) this.deps.log.log('debug', `Client: Received message ${type} from client`);
    // The message may be a view into the socket's read buffer (frames.ts): zero-copy. The
    // port gives the request its id (broker/request-ids.ts).
    const reply = await this.deps.port.request({ client: client.context, at: this.deps.now(), message });
    switch (reply.kind) {
      case 'frame':
        // A refused preapproval's reply has no reason field: say it in lightningd's log, where
        // its `pay` fails (docs/policies.md).
        if (isRefusedPreapproval(reply)) this.deps.log.log('unusual', `${messageName(type)} refused, ${policyRefusalOf(reply)}`);
        return conn.reply(reply.frame);
      case 'none': // hsmd_dev_preinit
        return;
      case 'bad-request':
        return this.badRequest(client, conn, message, reply.description);
      case 'fatal':
        // e.g. hsmd_send_init_reply_failure: the reply goes out first, then status_failed.
        if (reply.frame) await conn.reply(reply.frame);
        return this.deps.fatal(reply.failure, reply.description);
      default:
        return unreachable(reply);
    }
  }

  /** hsmd.c pass_client_hsmfd. */
  private async clientHsmfd(client: Client, conn: Connection, message: Uint8Array): Promise<void> {
    if (!client.isMaster) {
      // Only lightningd may hold MASTER, and hsmd.c asserts is_lightningd() here.
      return this.badRequest(client, conn, message, 'client_hsmfd is only for lightningd');
    }
    const context = fromwireClientHsmfd(message);
    if (!context) return this.badRequest(client, conn, message, 'could not parse request');
    if (!isValidNodeId(context.peer)) {
      return this.deps.fatal('internal', `Invalid node id ${hex(context.peer)}`); // new_client
    }
    this.deps.log.log('debug', `new_client: ${context.dbid}`);
    let pair: ReturnType<typeof newClientSocketpair>;
    try {
      pair = newClientSocketpair();
    } catch (e) {
      // Out of descriptors (EMFILE): fail loudly as hsmd.c does ("creating fds"), never leave
      // lightningd waiting for a reply that cannot come.
      return this.deps.fatal('internal', `creating fds: ${describe(e)}`);
    }
    const { ours, theirs } = pair;
    this.deps.startClient(ours, context);
    await passClientFd(conn, this.deps.masterFd, theirs);
  }

  /** hsmd.c bad_req_fmt. */
  private async badRequest(client: Client, conn: Connection, message: Uint8Array, description: string): Promise<void> {
    const { log, status } = this.deps;
    if (client.isMaster) {
      // Game over: status_broken(str), then master_badmsg (common/status.c), whose %u
      // prints fromwire_peektype's -1 as 4294967295.
      log.log('broken', description);
      return this.deps.fatal('master-io', `Error parsing ${requestType(message) >>> 0}: ${hex(message)}`);
    }
    const peer = client.context.peer;
    log.log('broken', `${hex(peer)}: ${description}`);
    status.clientBadRequest(peer, description, message);
    conn.close();
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function unreachable(reply: never): never {
  throw new Error(`unknown reply ${JSON.stringify(reply)}`);
}

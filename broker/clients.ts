/**
 * The client registry, as hsmd.c keeps it (new_client, destroy_client):
 * - the master (lightningd on fd 3) is the first client: 33 zero bytes id, dbid 0,
 *   MASTER|SIGN_GOSSIP|ECDH;
 * - dbid 0 clients (master, connectd, gossipd) sit in a 3-slot array that CLN never
 *   empties and asserts never to overflow;
 * - any other dbid maps to one live client: a new client with the same dbid closes the
 *   old connection (a channel's daemon was restarted).
 */
import type { ClientContext } from '../signer/envelope.js';
import { MASTER_PERMISSIONS } from '../signer/permissions.js';

/** hsmd.c dbid_zero_clients[3]. */
export const MAX_DBID_ZERO_CLIENTS = 3;

export interface Client {
  /** Registration order, 0 for the master: tells connections apart in logs. */
  readonly serial: number;
  readonly context: ClientContext;
  readonly isMaster: boolean;
  /**
   * A dbid 0 client beyond CLN's three: CLN's hsmd would abort here. We serve it (the
   * limit is only the size of CLN's array) and the caller logs it.
   */
  readonly overflow: boolean;
  /** Closes this client's connection. */
  close(): void;
}

export class ClientRegistry {
  private serials = 0;
  private dbidZeroCount = 0;
  private readonly byDbid = new Map<bigint, Client>();

  /** The master client; call once, before any other. */
  addMaster(close: () => void): Client {
    if (this.serials !== 0) throw new Error('the master must be the first client');
    return this.register({ peer: new Uint8Array(33), dbid: 0n, permissions: MASTER_PERMISSIONS }, close);
  }

  /** Registers a client made by hsmd_client_hsmfd; a live client with its nonzero dbid is closed. */
  add(context: ClientContext, close: () => void): Client {
    if (this.serials === 0) throw new Error('the master must be the first client');
    return this.register(context, close);
  }

  /** Forgets a client whose connection ended; a no-op if it was already replaced. */
  remove(client: Client): void {
    if (this.byDbid.get(client.context.dbid) === client) this.byDbid.delete(client.context.dbid);
  }

  private register(context: ClientContext, close: () => void): Client {
    const serial = this.serials++;
    let overflow = false;
    if (context.dbid === 0n) {
      overflow = ++this.dbidZeroCount > MAX_DBID_ZERO_CLIENTS;
    } else {
      const old = this.byDbid.get(context.dbid);
      if (old) old.close(); // its serve loop ends and calls remove(), which finds us instead
    }
    const client: Client = { serial, context, isMaster: serial === 0, overflow, close };
    if (context.dbid !== 0n) this.byDbid.set(context.dbid, client);
    return client;
  }
}

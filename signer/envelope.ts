/**
 * The unit of work the signer handles (docs/design.md#the-signer-core): one hsmd request with the identity of
 * the connection it came from, stamped by the broker.
 */

/** The connection a request came in on: CLN's (id, dbid, permissions) of hsmd's client. */
export interface ClientContext {
  /** 33-byte node id of the peer (our own id for connectd/gossipd, 33 zero bytes for the master). */
  readonly peer: Uint8Array;
  /** Channel database id; 0 for global clients and the master. */
  readonly dbid: bigint;
  /** HSM_PERM_* bits (signer/permissions.ts). */
  readonly permissions: bigint;
}

export interface Envelope {
  /** 64-bit request id assigned by the broker; unique per broker log. */
  readonly id: bigint;
  readonly client: ClientContext;
  /** Unix seconds, stamped by the broker (the signer has no clock). */
  readonly at: number;
  /** The hsmd request frame: 2-byte type + fields, without the 4-byte length prefix. */
  readonly message: Uint8Array;
}

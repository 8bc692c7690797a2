/**
 * hsmd client permissions (CLN hsmd/permissions.h) and the gate that decides which
 * request types a client may send (libhsmd.c hsmd_check_client_capabilities, v25.12.1).
 *
 * A request that fails the gate is a bad request: the client is closed with
 * hsmstatus_client_bad_request, or hsmd exits if the client is lightningd itself.
 */

export const HSM_PERM_ECDH = 1n;
export const HSM_PERM_SIGN_GOSSIP = 2n;
export const HSM_PERM_SIGN_ONCHAIN_TX = 4n;
export const HSM_PERM_COMMITMENT_POINT = 8n;
export const HSM_PERM_SIGN_REMOTE_TX = 16n;
export const HSM_PERM_SIGN_CLOSING_TX = 32n;
export const HSM_PERM_SIGN_WILL_FUND_OFFER = 64n;
export const HSM_PERM_SIGN_SPLICE_TX = 128n;
export const HSM_PERM_LOCK_OUTPOINT = 256n;
export const HSM_PERM_MASTER = 1024n;

/** hsmd.c main(): the master connection is created with these capabilities. */
export const MASTER_PERMISSIONS = HSM_PERM_MASTER | HSM_PERM_SIGN_GOSSIP | HSM_PERM_ECDH;

/** Request type → the permission bit it needs. Types not listed are never accepted. */
const REQUIRED: ReadonlyMap<number, bigint> = new Map<number, bigint>([
  [1, HSM_PERM_ECDH], // ecdh_req
  [2, HSM_PERM_SIGN_GOSSIP], // cannouncement_sig_req
  [3, HSM_PERM_SIGN_GOSSIP], // cupdate_sig_req
  [6, HSM_PERM_SIGN_GOSSIP], // node_announcement_sig_req
  [12, HSM_PERM_SIGN_ONCHAIN_TX], // sign_delayed_payment_to_us
  [13, HSM_PERM_SIGN_ONCHAIN_TX], // sign_remote_htlc_to_us
  [14, HSM_PERM_SIGN_ONCHAIN_TX], // sign_penalty_to_us
  [16, HSM_PERM_SIGN_ONCHAIN_TX], // sign_local_htlc_tx
  [18, HSM_PERM_COMMITMENT_POINT], // get_per_commitment_point
  [22, HSM_PERM_COMMITMENT_POINT], // check_future_secret
  [31, HSM_PERM_COMMITMENT_POINT], // setup_channel
  [19, HSM_PERM_SIGN_REMOTE_TX], // sign_remote_commitment_tx
  [20, HSM_PERM_SIGN_REMOTE_TX], // sign_remote_htlc_tx
  [35, HSM_PERM_SIGN_REMOTE_TX], // validate_commitment_tx
  [40, HSM_PERM_SIGN_REMOTE_TX], // revoke_commitment_tx
  [36, HSM_PERM_SIGN_REMOTE_TX], // validate_revocation
  [21, HSM_PERM_SIGN_CLOSING_TX], // sign_mutual_close_tx
  [29, HSM_PERM_SIGN_SPLICE_TX], // sign_splice_tx
  [26, HSM_PERM_SIGN_WILL_FUND_OFFER], // sign_option_will_fund_offer
  [32, HSM_PERM_LOCK_OUTPOINT], // check_outpoint
  [37, HSM_PERM_LOCK_OUTPOINT], // lock_outpoint
  // Everything else a client may ask needs MASTER.
  ...[
    56, 11, 99, 30, 34, 9, 7, 8, 5, 10, 33, 23, 45, 24, 25, 41, 38, 39, 51, 52, 27, 28, 144, 142,
    143, 146, 147, 149, 4,
  ].map((t): [number, bigint] => [t, HSM_PERM_MASTER]),
]);

/** True if a client holding `permissions` may send a request of `type`. */
export function mayRequest(permissions: bigint, type: number): boolean {
  const needed = REQUIRED.get(type);
  return needed !== undefined && (permissions & needed) !== 0n;
}

/** True if `type` is an hsmd request type at all (replies and unknown numbers are not). */
export const isRequestType = (type: number): boolean => REQUIRED.has(type);

/**
 * What `decide` returns: the events to journal and apply, and the answer for lightningd.
 */
import type { SignerEvent } from './events.js';

/**
 * The answer to one request, in the forms CLN's hsmd gives:
 * - `frame`: a reply frame (2-byte type + fields);
 * - `none`: no reply at all (hsmd_dev_preinit);
 * - `bad-request`: hsmd's bad_req: the client is closed and lightningd told why
 *   (hsmstatus_client_bad_request); from the master this is fatal;
 * - `fatal`: hsmd's status_failed (e.g. lightningd's wallet key differs from ours):
 *   hsmd reports and exits, and lightningd with it. `frame`, if set, is written to the
 *   requester first (hsmd_init_reply_failure); `failure` null means a clean exit(0)
 *   without status_fail (CLN's answer to a wrong passphrase).
 */
export type Reply =
  | { readonly kind: 'frame'; readonly frame: Uint8Array }
  | { readonly kind: 'none' }
  | { readonly kind: 'bad-request'; readonly description: string }
  | {
      readonly kind: 'fatal';
      readonly failure: StatusFailure | null;
      readonly description: string;
      readonly frame?: Uint8Array;
    };

/** common/status_wire.csv enum status_failreason. */
export type StatusFailure = 'master-io' | 'hsm-io' | 'gossip-io' | 'internal';
export const STATUS_FAILURE_CODE: Readonly<Record<StatusFailure, number>> = {
  'master-io': 0,
  'hsm-io': 1,
  'gossip-io': 2,
  internal: 3,
};

export interface Decision {
  readonly events: readonly SignerEvent[];
  readonly reply: Reply;
}

export const replyWith = (frame: Uint8Array, events: readonly SignerEvent[] = []): Decision => ({
  events,
  reply: { kind: 'frame', frame },
});

export const badRequest = (description: string): Decision => ({
  events: [],
  reply: { kind: 'bad-request', description },
});

export const fatal = (failure: StatusFailure | null, description: string): Decision => ({
  events: [],
  reply: { kind: 'fatal', failure, description },
});

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

/**
 * CLN's enum status_failreason (common/status_wire.csv), in its order: a failure's code is
 * its index. The one list of them: status_fail, the reply codec and the logs use it.
 */
export const STATUS_FAILURES = ['master-io', 'hsm-io', 'gossip-io', 'internal'] as const;
export type StatusFailure = (typeof STATUS_FAILURES)[number];
export const statusFailureCode = (failure: StatusFailure): number => STATUS_FAILURES.indexOf(failure);

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

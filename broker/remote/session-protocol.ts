/**
 * What the broker's session (session.ts) takes in and gives out, and the request it keeps
 * while a device works on it: the vocabulary shared by the session and its dispatch
 * (dispatch.ts). Types and the protocol's timing constants only.
 */
import type { Reply } from '../../signer/decision.js';
import type { Envelope } from '../../signer/envelope.js';
import type { LogRecord, RequestReceived } from '../../log/broker-log/record.js';
import type { SignerRequest } from '../signer-port.js';
import type { ServerLog } from './mqtt-server.js';

/** Waits before each resend of an unanswered request (the last one repeats). */
export const RESEND_BACKOFF_MS: readonly number[] = [1000, 2000, 4000, 8000, 16000, 30000];
/** A message in flight is not resent again within this long (its requests' timers fire together). */
export const RESEND_GUARD_MS = 250;
/**
 * Ids a request may be ahead of the last durable RequestReceived and still be published
 * (its record's sync then overlaps the device's round trip); a broker that starts continues
 * this far past its log's last id, so an id published and lost in a crash is never reused.
 */
export const UNLOGGED_IDS = 1024n;
/** `req` messages in flight to one device at once (docs/remote-protocol.md "Batches"). */
export const MAX_IN_FLIGHT = 4;

/** When an event happened: wall clock (unix ms, for records) and a monotonic one (ms, for waits). */
export interface Now {
  readonly wall: number;
  readonly mono: number;
}

export type SessionEvent =
  /** lightningd's request; `token` names it in the `answer` or `fail` command. */
  | { readonly kind: 'request'; readonly token: number; readonly request: SignerRequest; readonly now: Now }
  /** The append command carrying `ack` is durable. */
  | { readonly kind: 'appended'; readonly ack: number; readonly now: Now }
  | { readonly kind: 'append-failed'; readonly ack: number; readonly error: string; readonly now: Now }
  /** A payload on a device's topic. */
  | { readonly kind: 'hello' | 'res' | 'status'; readonly device: string; readonly payload: Uint8Array; readonly now: Now }
  /** The resend timer of request `id` fired. */
  | { readonly kind: 'timer'; readonly id: bigint; readonly now: Now }
  /** The pump the `schedule-pump` command asked for (after the current turn). */
  | { readonly kind: 'pump'; readonly now: Now }
  | { readonly kind: 'close' };

export type SessionCommand =
  | { readonly kind: 'publish'; readonly device: string; readonly payload: Uint8Array; readonly ids: readonly bigint[] }
  /** Tell `device` its hello was refused (`refused` topic, signer/remote/refusal.ts). */
  | { readonly kind: 'refuse'; readonly device: string; readonly payload: Uint8Array }
  /**
   * Append `record`; with `ack`, feed back `appended` or `append-failed` (else log a failure).
   * `lazy`: nothing waits on it yet, so it may wait to share the next sync (BrokerLog.append).
   */
  | { readonly kind: 'append'; readonly record: LogRecord; readonly ack?: number; readonly lazy?: boolean }
  | { readonly kind: 'answer'; readonly token: number; readonly reply: Reply }
  /** lightningd's request `token` cannot be answered (its record could not be appended). */
  | { readonly kind: 'fail'; readonly token: number; readonly error: string }
  /** (Re)arm request `id`'s resend timer: a `timer` event after `ms`. */
  | { readonly kind: 'arm'; readonly id: bigint; readonly ms: number }
  | { readonly kind: 'disarm'; readonly id: bigint }
  /** A `pump` event once the current turn is over. */
  | { readonly kind: 'schedule-pump' }
  | { readonly kind: 'log'; readonly level: Parameters<ServerLog>[0]; readonly text: string }
  /** Init's reply revealed the node id: it becomes a known device key. */
  | { readonly kind: 'node-id'; readonly hex: string };

export interface SessionOptions {
  /** The last request id the broker log holds (0 if none). */
  readonly lastId: bigint;
  /** The highest request id the broker log shows a device answered (0 if none). */
  readonly answeredUpTo: bigint;
  /** The operator's way out of a rollback refusal: this device, saying hello with this lastId, is accepted. */
  readonly acceptRollback?: { readonly device: string; readonly lastId: bigint };
  /** Requests a previous run logged and got no reply for, above answeredUpTo (in flight when it stopped). */
  readonly unanswered?: readonly RequestReceived[];
  readonly backoffMs?: readonly number[];
}

/** lightningd's request, a device's check against the kept init, or a previous run's request whose reply is to be logged. */
export type Origin =
  | { readonly kind: 'lightningd'; readonly token: number }
  | { readonly kind: 'check'; readonly device: string }
  | { readonly kind: 'reconcile' };

export interface Pending {
  readonly id: bigint;
  readonly type: number;
  readonly envelope: Envelope;
  /** Monotonic ms when lightningd's request came (kept across a renumbering). */
  readonly started: number;
  readonly origin: Origin;
  attempt: number;
  answered: boolean;
  /** Its RequestReceived is durable. */
  logged: boolean;
}

/** A request waiting for, or in, a `req` message to `device`. */
export interface Queued {
  readonly device: string;
  readonly p: Pending;
}

export const byId = (a: Pending, b: Pending): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

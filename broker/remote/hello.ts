/**
 * What the broker makes of a device's hello (docs/remote-protocol.md "Connecting",
 * "Rollback"): the payload parsed with its bounds, the rollback rule, and what it settles of a
 * previous run's unanswered and unlogged requests. Pure; the session
 * (session.ts) acts on the result.
 */
import type { Envelope } from '../../signer/envelope.js';
import type { RequestReceived, UnloggedRequests } from '../../log/broker-log/record.js';
import { encodeRefusal } from '../../signer/remote/refusal.js';
import { parseDecimalU64 } from '../../signer/remote/decimal-u64.js';
import { MAX_REQUEST_ID } from '../request-ids.js';
import { type Now, type Pending, UNLOGGED_IDS } from './session-protocol.js';

export interface Hello {
  /** The last request id the device journaled. */
  readonly lastId: bigint;
  readonly firmware: unknown;
}

/**
 * The highest lastId a hello may carry: ids continue after it, so one within 2^32 of the end
 * would soon run the broker out of request ids (every later request refused). No journal gets
 * there (it would take ~2^64 requests), only a corrupt or hostile hello; the 2^32 ids left
 * last a request a second for 136 years.
 */
export const MAX_HELLO_LAST_ID = MAX_REQUEST_ID - 2n ** 32n;

/** The hello, or why it is malformed (not JSON, a lastId that is not a u64 up to MAX_HELLO_LAST_ID). */
export function parseHello(payload: Uint8Array): Hello | Error {
  try {
    const hello = JSON.parse(new TextDecoder().decode(payload)) as { lastId?: unknown; firmware?: unknown };
    const lastId = parseDecimalU64('lastId', hello.lastId);
    if (lastId instanceof Error) return lastId;
    if (lastId > MAX_HELLO_LAST_ID) return new Error(`lastId ${lastId} leaves fewer than 2^32 request ids after it (above 2^64-2^32-1)`);
    return { lastId, firmware: hello.firmware };
  } catch (e) {
    return e as Error;
  }
}

/**
 * A device whose journal ends below the highest id the broker log shows answered lost records
 * (deleted, truncated, restored from an older copy): refused, unless the operator accepted
 * exactly that device and id. Undefined when there is no rollback; else the loud line to log,
 * and for a refusal the message that tells the device why (signer/remote/refusal.ts).
 */
export function rollbackVerdict(
  device: string,
  lastId: bigint,
  answeredUpTo: bigint,
  accept: { readonly device: string; readonly lastId: bigint } | undefined,
): { readonly accepted: true; readonly text: string } | { readonly accepted: false; readonly text: string; readonly refusal: Uint8Array } | undefined {
  if (lastId >= answeredUpTo) return undefined;
  if (accept?.device === device && accept.lastId === lastId) {
    return {
      accepted: true,
      text: `device ${device} says its journal ends at id ${lastId} although the broker log shows id ${answeredUpTo} answered: ` +
        'accepted because SPHINX_ACCEPT_DEVICE_ROLLBACK names it (the operator\'s decision: state after that id is lost to it)',
    };
  }
  return {
    accepted: false,
    refusal: encodeRefusal({ reason: 'rollback', lastId, answeredUpTo }),
    text: `device ${device} refused: its journal ends at id ${lastId} but the broker log shows id ${answeredUpTo} answered: ` +
      'its journal was deleted, truncated or restored from an older copy, and signing from that state could sign a revoked commitment. ' +
      `Restore its journal; or, knowing the risk, set SPHINX_ACCEPT_DEVICE_ROLLBACK=${device}:${lastId} (docs/broker-log.md "The operator's way out"); ` +
      'the device records this refusal in its retired file and stays stopped: delete that file before starting it again. ' +
      'If another device with this seed is active, this one is retired: wipe it (docs/journal.md "Retiring a device")',
  };
}

/**
 * The ids a device journaled that the broker's previous run published before their
 * RequestReceived was durable, and never logged because it stopped (docs/broker-log.md
 * "Reconciliation after a broker crash"): its lastId above `loggedLastId`, the log's last id
 * when this run started. A run publishes ahead of its record only within UNLOGGED_IDS of a
 * durable one, and this run's ids start past that reach (session.ts), so only a lastId
 * within it is such an id; above it the device has journaled this run's ids (logged), and a
 * run that started from an empty log published nothing ahead. Undefined when there is none;
 * else the record to append and the line to log.
 */
export function unloggedNote(device: string, loggedLastId: bigint, lastId: bigint, at: number): { readonly record: UnloggedRequests; readonly text: string } | undefined {
  if (loggedLastId === 0n || lastId <= loggedLastId || lastId > loggedLastId + UNLOGGED_IDS) return undefined;
  return {
    record: { kind: 'unlogged-requests', deviceId: device, afterId: loggedLastId, throughId: lastId, at },
    text: `device ${device} journaled ids ${loggedLastId + 1n}..${lastId}, above the broker log's last id ${loggedLastId}: ` +
      'the broker published them before logging them and stopped; recorded as decided by the device, never logged or answered',
  };
}

/**
 * A previous run's requests logged without a reply (the broker stopped meanwhile), settled by
 * the first device's hello (docs/broker-log.md "Reconciliation after a broker crash"): those it
 * journaled (id up to its lastId) go out again, ahead of anything new, to have their journaled
 * replies logged, answering nobody; the others were never decided and nobody waits for them now.
 * Each with the line that says so.
 */
export function settleUnanswered(
  device: string,
  lastId: bigint,
  unanswered: readonly RequestReceived[],
  now: Now,
): { readonly resend: { readonly p: Pending; readonly text: string }[]; readonly dropped: { readonly id: bigint; readonly text: string }[] } {
  const resend: { p: Pending; text: string }[] = [];
  const dropped: { id: bigint; text: string }[] = [];
  for (const r of unanswered) {
    if (r.id > lastId) {
      dropped.push({ id: r.id, text: `request ${r.id}, logged before the broker stopped, was never answered: device ${device} had not journaled it (its journal ends at ${lastId}); ` +
        'lightningd restarted with the broker, so nobody waits for it' });
      continue;
    }
    const envelope: Envelope = { id: r.id, client: r.client, at: Math.floor(r.at / 1000), message: r.message };
    resend.push({
      p: { id: r.id, type: r.type, envelope, started: now.mono, origin: { kind: 'reconcile' }, attempt: 0, answered: false, logged: true },
      text: `request ${r.id} was answered by device ${device} (its journal ends at ${lastId}) but the broker stopped before logging the reply: asking for it again`,
    });
  }
  return { resend, dropped };
}

/**
 * The session's way of getting requests to a device (docs/remote-protocol.md "Batches"):
 * requests wait in a queue, in the order they came, and leave in `req` messages of up to
 * MAX_BATCH_REQUESTS / MAX_BATCH_BYTES, with up to MAX_IN_FLIGHT messages unanswered at a
 * device at once. Each message names, in `after`, the highest id still unanswered in the
 * messages before it to that device: the device handles it only once its journal reached
 * that id, so a message the network delivers early waits instead of being decided out of
 * order (the device core takes ids in increasing order only). Pure, like the session
 * (session.ts), which says what is still to be sent and what may leave yet.
 */
import { batchedRequestSize, encodeRequestBatch, MAX_BATCH_BYTES, MAX_BATCH_REQUESTS } from '../../signer/remote/envelope-codec.js';
import { MAX_IN_FLIGHT, type Now, type Pending, type Queued, RESEND_GUARD_MS, type SessionCommand } from './session-protocol.js';

export interface DispatchHost {
  /** Still to be sent to `q.device`: not answered, not renumbered, and that device still the target. */
  current(q: Queued): boolean;
  /** May leave now (its RequestReceived durable, or its id within reach of the last durable one). */
  publishable(p: Pending): boolean;
  /** The batch is about to be published. */
  sending(batch: readonly Queued[]): void;
  emit(command: SessionCommand): void;
}

interface Flight {
  readonly device: string;
  batch: Queued[];
  /** Monotonic ms it was last (re)sent. */
  sentAt: number;
}

/** The bytes a batch takes before its requests (version, after, count). */
const BATCH_HEADER = 11;

export class Dispatch {
  #queue: Queued[] = [];
  #flights: Flight[] = [];
  #pumpScheduled = false;

  constructor(private readonly host: DispatchHost) {}

  /** Nothing queued or in flight any more: a newly active device is sent what is outstanding again. */
  reset(): void {
    this.#queue = [];
    this.#flights = [];
  }

  /**
   * Queues `p` for `device`, or resends the message in flight that holds `p` (what of it is
   * still unanswered); its other requests' timers, firing about now too, do not send it again.
   */
  publishTo(device: string, p: Pending, now: Now): void {
    const flight = this.#flights.find((f) => f.device === device && f.batch.some((q) => q.p === p));
    if (flight) {
      if (now.mono - flight.sentAt < RESEND_GUARD_MS) return;
      flight.batch = flight.batch.filter((q) => this.host.current(q));
      flight.sentAt = now.mono;
      if (flight.batch.length > 0) return this.#transmit(flight);
      this.#flights.splice(this.#flights.indexOf(flight), 1);
    }
    if (!this.#queue.some((q) => q.p === p && q.device === device)) this.#queue.push({ device, p });
    this.schedule();
  }

  /**
   * A pump after the current turn: the requests one group commit made durable all resume in
   * this turn, so they leave together in one batch, not the first alone and the rest after it.
   */
  schedule(): void {
    if (this.#pumpScheduled || this.#queue.length === 0) return;
    this.#pumpScheduled = true;
    this.host.emit({ kind: 'schedule-pump' });
  }

  /** The scheduled pump is running. */
  pumped(): void {
    this.#pumpScheduled = false;
  }

  /** `device` answered a message holding one of `ids`: that message is no longer in flight. */
  answered(device: string, ids: readonly bigint[]): void {
    this.#flights = this.#flights.filter((f) => f.device !== device || !f.batch.some((q) => ids.includes(q.p.id)));
  }

  /** Sends what waits, in queue order, while the device has room for another message. */
  pump(now: Now): void {
    this.#flights = this.#flights.filter((f) => f.batch.some((q) => this.host.current(q)));
    while (this.#queue.length > 0) {
      const first = this.#queue[0]!;
      if (!this.host.current(first)) {
        this.#queue.shift();
        continue;
      }
      // In order: what comes after a request that may not leave yet waits with it.
      if (!this.host.publishable(first.p)) return;
      if (this.#flights.filter((f) => f.device === first.device).length >= MAX_IN_FLIGHT) return;
      this.#queue.shift();
      const batch = [first];
      let bytes = BATCH_HEADER + batchedRequestSize(first.p.envelope);
      while (this.#queue.length > 0 && batch.length < MAX_BATCH_REQUESTS) {
        const next = this.#queue[0]!;
        if (!this.host.current(next)) {
          this.#queue.shift();
          continue;
        }
        const size = batchedRequestSize(next.p.envelope);
        if (next.device !== first.device || bytes + size > MAX_BATCH_BYTES || !this.host.publishable(next.p)) break;
        this.#queue.shift();
        batch.push(next);
        bytes += size;
      }
      const flight: Flight = { device: first.device, batch, sentAt: now.mono };
      this.#flights.push(flight);
      this.#transmit(flight);
    }
  }

  #transmit(flight: Flight): void {
    const ids = flight.batch.map((q) => q.p.id);
    const lowest = ids.reduce((a, b) => (b < a ? b : a));
    let after = 0n;
    for (const other of this.#flights) {
      if (other === flight || other.device !== flight.device) continue;
      for (const q of other.batch) if (q.p.id < lowest && q.p.id > after && this.host.current(q)) after = q.p.id;
    }
    this.host.sending(flight.batch);
    try {
      this.host.emit({ kind: 'publish', device: flight.device, payload: encodeRequestBatch(flight.batch.map((q) => q.p.envelope), after), ids });
    } catch (e) {
      this.host.emit({ kind: 'log', level: 'broken', text: `remote signer: encoding requests ${ids.join(', ')}: ${(e as Error).message}` });
    }
  }
}

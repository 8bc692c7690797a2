/**
 * The broker's side of the journal mirror (docs/journal.md "Mirror", docs/remote-protocol.md
 * "Journal mirror"): entries the device sends on `journal` are kept in a LevelDB
 * (SPHINX_DATA_DIR/mirror), acknowledged on `journal-ack` once durable, and served back on
 * `journal-fetch` as `journal-dump` chunks with the largest request id the broker's reply log
 * shows answered (restore's freshness check). The broker has no key: it checks only that
 * each entry continues the stored chain (counter + 1, previous MAC equal); restore checks
 * the MACs.
 *
 * `acceptEntries` is the pure decision per message; `RefusalLog` what of it is logged;
 * `MirrorDb` (log/broker-log/mirror-db.ts) its LevelDB; `attachMirror` the MQTT glue on the
 * broker's client.
 */
import { equal } from '../../signer/bytes.js';
import { parseTopic, topic, TOPIC_ROOT } from '../../signer/remote/topics.js';
import type { BrokerLog } from '../../log/broker-log/broker-log.js';
import { type ChainPosition, type MirrorEntry, positionAfter, ZERO_MAC } from '../../log/mirror/entry.js';
import { MirrorDb } from '../../log/broker-log/mirror-db.js';
import { chunkEntries, decodeFetch, decodeJournal, encodeAck, encodeDump, type JournalAck } from '../../log/mirror/messages.js';
import { ReportLimit } from '../../log/mirror/report-limit.js';
import type { ServerLog } from './mqtt-server.js';
import type { BrokerMqtt } from './local-client.js';

export interface Acceptance {
  /** Entries to store, in order. */
  readonly store: readonly MirrorEntry[];
  /** Entries below this counter are superseded by a stored snapshot and may be dropped. */
  readonly pruneBelow?: bigint;
  /** The device started a new chain (a snapshot at entry 1): drop the old one first. */
  readonly reset: boolean;
  readonly ack: JournalAck;
  /** Lines for the log (a new chain, an entry that does not continue the chain). */
  readonly notes: readonly string[];
}

const isNewChain = (e: MirrorEntry): boolean => e.kind === 'snapshot' && e.counter === 1n && equal(e.prevMac, ZERO_MAC);

/** What to do with one `journal` message, given the stored chain's last position. Pure. */
export function acceptEntries(tip: ChainPosition | undefined, entries: readonly MirrorEntry[]): Acceptance {
  const store: MirrorEntry[] = [];
  const notes: string[] = [];
  let pruneBelow: bigint | undefined;
  let reset = false;
  let at = tip;
  for (const e of entries) {
    if (at && e.counter <= at.counter) {
      if (!isNewChain(e)) continue; // already stored: a resend
      notes.push(`the device started a new mirror chain at a snapshot (the stored one ended at entry ${at.counter}); the old chain is dropped`);
      reset = true;
      store.length = 0;
    } else if (at && e.counter === at.counter + 1n && !equal(e.prevMac, at.mac)) {
      notes.push(`entry ${e.counter} does not continue the stored chain (its previous MAC differs): another device with this seed, or a forgery; not stored`);
      return { store, pruneBelow, reset, ack: { counter: at.counter, gap: true }, notes };
    } else if (at ? e.counter !== at.counter + 1n && e.kind !== 'snapshot' : e.kind !== 'snapshot' && e.counter !== 1n) {
      return { store, pruneBelow, reset, ack: { counter: at?.counter ?? 0n, gap: true }, notes };
    }
    store.push(e);
    if (e.kind === 'snapshot') pruneBelow = e.counter;
    at = positionAfter(e);
  }
  return { store, pruneBelow, reset, ack: { counter: at?.counter ?? 0n, gap: false }, notes };
}

/**
 * Several `journal` messages that waited together, decided in order as one store (group
 * commit: one synced write for all of them). Pure. The acknowledgement is cumulative; it
 * asks again (`gap`) if any of them did not continue the chain.
 */
export function acceptMessages(tip: ChainPosition | undefined, messages: readonly (readonly MirrorEntry[])[]): Acceptance {
  let store: MirrorEntry[] = [];
  const notes: string[] = [];
  let pruneBelow: bigint | undefined;
  let reset = false;
  let gap = false;
  let at = tip;
  for (const entries of messages) {
    const a = acceptEntries(at, entries);
    notes.push(...a.notes);
    if (a.reset) {
      reset = true;
      store = [];
    }
    store.push(...a.store);
    pruneBelow = a.pruneBelow ?? pruneBelow;
    if (a.store.length > 0) at = positionAfter(a.store.at(-1)!);
    gap ||= a.ack.gap;
  }
  return { store, pruneBelow, reset, ack: { counter: at?.counter ?? 0n, gap }, notes };
}

/**
 * What the broker logs of the mirror's decisions (docs/journal.md "Mirror"). A device whose
 * entries keep being refused (another device with its seed wrote another chain) sends them
 * again and again: per device the first refusal is logged, then at most one per
 * MIRROR_REPORT_MS with how many were not, and a count of the unlogged ones once its chain
 * continues. A refusal beside a new chain's start is logged in full. Pure: the caller gives the time.
 */
export class RefusalLog {
  readonly #devices = new Map<string, ReportLimit>();

  /** The lines to log for one stored batch of `device`'s messages, decided at `now`. */
  lines(device: string, a: Acceptance, now: number): string[] {
    if (!a.ack.gap) {
      const limit = a.store.length > 0 ? this.#devices.get(device) : undefined;
      if (limit) this.#devices.delete(device);
      const unlogged = limit?.unsaid ? [`${limit.unsaid} more refused messages were not logged before the chain continued`] : [];
      return [...a.notes, ...unlogged];
    }
    let limit = this.#devices.get(device);
    if (!limit) this.#devices.set(device, (limit = new ReportLimit()));
    const lastLogged = limit.saidAt ?? now;
    const unlogged = limit.occurred(now, a.reset);
    if (unlogged === undefined) return [];
    const since = unlogged ? ` (and ${unlogged} more in the last ${Math.round((now - lastLogged) / 1000)} s, not logged)` : '';
    return [[...a.notes, `entries after ${a.ack.counter} do not follow the stored chain; asking for them again`].join('; ') + since];
  }
}

/** How long the broker gathers `journal` messages before storing them (off the reply path). */
export const GATHER_MS = 50;
/** After the gather, the longest the store waits for the broker log's next batch to be durable. */
export const ALIGN_MS = 10;

export interface MirrorAttachment {
  readonly store: MirrorDb;
  close(): Promise<void>;
}

/**
 * Serves the mirror topics on the broker's MQTT client. Messages of one device are handled
 * in arrival order; `journal` messages are gathered for GATHER_MS (and while a write is under
 * way) and stored together with one synced write: the device sends one per reply batch, and
 * an fsync each would compete with the broker log's own, which is on the reply path. That
 * write starts just after one of the broker log's batches is durable (ALIGN_MS at most after
 * the gather): the next reply's record syncs a device round trip later, so the two seldom
 * meet on the disk (docs/journal.md "Mirror"). The largest answered request id is followed live from the
 * broker log (a reply is logged only after the device journaled it).
 */
export async function attachMirror(options: { mqtt: BrokerMqtt; brokerLog: BrokerLog; dir: string; log: ServerLog; now?: () => number }): Promise<MirrorAttachment> {
  const { mqtt, brokerLog, log, now = Date.now } = options;
  const refusals = new RefusalLog();
  const store = await MirrorDb.open(options.dir);
  let repliedUpTo = 0n;
  /** Drains waiting for the broker log's next durable batch (its records reach the subscription below). */
  const afterBatch = new Set<() => void>();
  const replies = brokerLog.subscribe(0n, ({ record }) => {
    if (record.kind === 'reply-received' && record.id > repliedUpTo) repliedUpTo = record.id;
    for (const wake of afterBatch) wake();
  });
  /** Resolves after the next batch is durable (or ALIGN_MS), once the turn that answers its replies is over. */
  const brokerLogBatchDone = (): Promise<void> =>
    new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        afterBatch.delete(wake);
        setImmediate(resolve);
      };
      const timer = setTimeout(wake, ALIGN_MS);
      afterBatch.add(wake);
    });
  await replies.ready;
  const queues = new Map<string, Promise<void>>();
  // Acknowledgements go at QoS 0: they are cumulative and the device sends again what stays
  // unacknowledged, so a lost one costs nothing, while QoS 1 has the MQTT server store each.
  const send = (device: string, suffix: 'journal-ack' | 'journal-dump', payload: Uint8Array): Promise<void> =>
    mqtt.publishAsync(topic(device, suffix), Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: suffix === 'journal-ack' ? 0 : 1 }).then(() => undefined);

  /** `journal` payloads not yet stored, by device; a drain is queued whenever this is non-empty. */
  const waiting = new Map<string, Uint8Array[]>();
  const drain = async (device: string): Promise<void> => {
    await new Promise((resolve) => setTimeout(resolve, GATHER_MS));
    const payloads = waiting.get(device) ?? [];
    waiting.delete(device);
    const messages = payloads.flatMap((payload) => {
      try {
        return [decodeJournal(payload)];
      } catch (e) {
        log('unusual', `mirror of ${device}: journal message of ${payload.length} bytes dropped: ${(e as Error).message}`);
        return [];
      }
    });
    const accepted = acceptMessages(await store.tip(device), messages);
    await store.apply(device, accepted, brokerLogBatchDone);
    if (accepted.store.length > 0) log('debug', `mirror of ${device}: entries ${accepted.store[0]!.counter}..${accepted.store.at(-1)!.counter} stored`);
    for (const line of refusals.lines(device, accepted, now())) log('unusual', `mirror of ${device}: ${line}`);
    // Not awaited: the next write need not wait for this PUBACK (acks are cumulative, in order).
    send(device, 'journal-ack', encodeAck(accepted.ack)).catch((e: Error) => log('unusual', `mirror of ${device}: acknowledgement not sent (${e.message}); the device sends again`));
  };
  const onFetch = async (device: string, payload: Uint8Array): Promise<void> => {
    decodeFetch(payload);
    const entries = await store.entries(device);
    const chunks = chunkEntries(entries);
    log('info', `mirror of ${device}: sending ${entries.length} entries for a restore (answered up to request id ${repliedUpTo})`);
    if (chunks.length === 0) chunks.push([]);
    for (const [i, chunk] of chunks.entries()) await send(device, 'journal-dump', encodeDump({ final: i === chunks.length - 1, repliedUpTo, entries: chunk }));
  };

  const onMessage = (name: string, payload: Buffer): void => {
    const where = parseTopic(name);
    if (!where || (where.suffix !== 'journal' && where.suffix !== 'journal-fetch')) return;
    const bytes = new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
    if (where.suffix === 'journal') {
      const list = waiting.get(where.deviceId);
      if (list) return void list.push(bytes); // a drain is already queued: it takes this one too
      waiting.set(where.deviceId, [bytes]);
    }
    const handle = where.suffix === 'journal' ? drain : (device: string) => onFetch(device, bytes);
    const previous = queues.get(where.deviceId) ?? Promise.resolve();
    const next = previous.then(() => handle(where.deviceId)).catch((e: Error) => {
      log('unusual', `mirror of ${where.deviceId}: ${where.suffix} message of ${bytes.length} bytes dropped: ${e.message}`);
    });
    queues.set(where.deviceId, next);
  };
  mqtt.on('message', onMessage);
  mqtt.subscribe(['journal', 'journal-fetch'].map((s) => `${TOPIC_ROOT}/+/${s}`), { qos: 1 }, (err) => {
    if (err) log('broken', `mirror: subscribing: ${err.message}`);
  });
  return {
    store,
    async close() {
      mqtt.off('message', onMessage);
      replies.close();
      await Promise.all(queues.values());
      await store.close();
    },
  };
}

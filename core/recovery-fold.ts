/**
 * What the device core keeps from journal recovery, folded as each record is decoded
 * (docs/journal.md "Rebuild"): the state (the snapshot's, then every record's events in
 * journal order), the snapshot's recent replies and where each request record since it is in
 * the journal (a redelivered id gets its journaled reply: kept-replies.ts), each source's last sequence number,
 * and how many records count towards the next snapshot. The rest of a record (its events, its
 * decoded objects) dies with its turn, in V8's young generation: holding every decoded record
 * until the end had each promoted, and collecting them cost a third of the rebuild.
 */
import { KeptReplies } from './kept-replies.js';
import type { EntryVisitor } from '../log/journal/follow.js';
import { type EntryToFold, isSourced } from '../log/journal/record.js';
import type { Snapshot } from '../log/journal/snapshot-slots.js';
import { decodeSnapshotBody } from '../projections/signer-state.js';
import { apply, initialState, type SignerState } from '../signer/state.js';

export class RecoveryFold {
  state: SignerState;
  /** The snapshot's recent replies, then where every request record's is in the journal. */
  readonly replies: KeptReplies;
  /** The last sequence number of each source of sourced records. */
  readonly sources: Map<string, bigint>;
  /** Records (request and sourced) after the snapshot. */
  entries = 0;
  /** Each record's payload (a copy), when an observer is to see them (the mirror); else undefined. */
  readonly payloads: Uint8Array[] | undefined;

  /** Starts from `snapshot` (its body as SignerCore writes it), or from the initial state. */
  constructor(snapshot: Snapshot | undefined, keepPayloads: boolean) {
    const body = snapshot && decodeSnapshotBody(snapshot.body);
    this.state = body?.state ?? initialState;
    this.replies = new KeptReplies(body?.recent ?? []);
    this.sources = new Map(body?.sources ?? []);
    this.payloads = keepPayloads ? [] : undefined;
  }

  readonly visit: EntryVisitor<EntryToFold> = (entry, offset, payload) => {
    let state = this.state;
    for (const e of entry.events) state = apply(state, e);
    this.state = state;
    if (isSourced(entry)) {
      this.sources.set(entry.source, entry.seq);
    } else {
      this.replies.recovered(entry.id, offset);
    }
    this.entries++;
    this.payloads?.push(payload.slice());
  };
}

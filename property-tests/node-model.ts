/**
 * A model of a real node as fast-check arbitraries: the request sequences lightningd sends
 * the signer, and the faults the device meets while handling them.
 *
 * Requests come from a real node's recording (session-basic-l1: init, a channel opened with
 * new_channel / get_channel_basepoints / setup_channel, 16 commitment rounds of
 * sign_remote_commitment_tx n / validate_revocation n-1 / validate_commitment_tx n /
 * revoke_commitment_tx n-1, invoices, messages, ECDH, a withdrawal, a mutual close):
 * - a prefix of the recording, in its order (the channel protocol fixes that order);
 * - node-level requests of the recording (init, ECDH, sign_invoice, sign_message,
 *   derive_secret, check_pubkey, preapprove_invoice_check) sent again with a new id at any
 *   point after init: the protocol lets lightningd's daemons send them at any time;
 * - probes: sign_commitment_tx for a holder commitment the prefix already revoked (the
 *   recorded request with commit_num changed), what a compromised or buggy node would send;
 * - redeliveries of already answered ids, in any order (MQTT QoS 1, broker resends);
 * - crashes while handling a delivery (before append, after append before sync with the
 *   unsynced record torn at any byte, or on the SD card its length kept but only its first
 *   bytes written, the rest zeros or 0xff, after sync at any later write of a snapshot or
 *   compaction, or before the reply leaves), each followed by reboot and redelivery;
 * - clean restarts; and (for the journal-fault property) a final media fault: a bit flipped, the
 *   last write torn, a region zeroed, erased or overwritten, or a whole file zeroed or overwritten.
 * Fresh deliveries get ids 1, 2, 3, ... in order, so a scenario is fully resolved when it is
 * generated and prints as the numbered list of its steps.
 */
import fc from 'fast-check';
import { fromHex, toHex } from '../signer/bytes.js';
import type { ClientContext } from '../signer/envelope.js';
import { decodeAs, decodeMessage, encodeMessage, messageNameOf, peekType } from '../signer/wire/messages.js';
import { fixturePath } from '../test/fixtures.js';
import { clientOf, loadTranscript } from '../test/transcript.js';

export const SESSION = 'session-basic-l1.jsonl';
const CLIENT_HSMFD = 9;
const NODE_LEVEL = new Set([1, 8, 11, 23, 27, 28, 51]);
const REVOKE_COMMITMENT_TX = 40;
const SIGN_COMMITMENT_TX = 5;

/** One request as lightningd sends it; `origin` keys the crash-free reference run. */
export interface Request {
  readonly origin: string;
  readonly label: string;
  readonly client: ClientContext;
  readonly message: Uint8Array;
  /** CLN's recorded reply (hex, null for none), for recorded and node-level requests. */
  readonly recorded?: string | null;
  /** For a probe: the revoked commitment number it asks to sign. */
  readonly revoked?: bigint;
}

const short = (b: Uint8Array): string => `${toHex(b).slice(0, 4)}..`;

/** "new_channel(peer 02ab.., dbid 1)", "revoke_commitment_tx(n 3)": what a step does. */
export function describe(message: Uint8Array, client: ClientContext): string {
  const name = (messageNameOf(peekType(message)) ?? `type ${peekType(message)}`).replace(/^hsmd_/, '').replace(/_req$/, '');
  const f = decodeMessage(message) as unknown as Record<string, unknown>;
  const args: string[] = [];
  const peer = f.id ?? f.peerid ?? f.peer_id;
  if (peer instanceof Uint8Array) args.push(`peer ${short(peer)}`);
  const dbid = f.dbid ?? f.channel_dbid ?? (client.dbid > 0n ? client.dbid : undefined);
  if (dbid !== undefined) args.push(`dbid ${dbid}`);
  for (const k of ['commit_num', 'revoke_num', 'n', 'index'] as const) if (typeof f[k] === 'bigint' || typeof f[k] === 'number') args.push(`${k === 'index' ? 'index' : 'n'} ${f[k]}`);
  return args.length ? `${name}(${args.join(', ')})` : name;
}

const { exchanges } = loadTranscript(fixturePath(`transcripts/${SESSION}`));
/** The recording's requests the signer handles (hsmd_client_hsmfd is the broker's own). */
export const RECORDED: readonly Request[] = exchanges
  .filter((ex) => parseInt(ex.req.slice(0, 4), 16) !== CLIENT_HSMFD)
  .map((ex, i) => {
    const client = clientOf(ex);
    const message = fromHex(ex.req);
    return { origin: `r${i}`, label: describe(message, client), client, message, recorded: ex.rep };
  });

/** Node-level requests of the recording, one of each distinct frame, to send again. */
export const NODE_REQUESTS: readonly Request[] = (() => {
  const seen = new Set<string>();
  return RECORDED.filter((r) => NODE_LEVEL.has(peekType(r.message)) && !seen.has(toHex(r.message)) && seen.add(toHex(r.message)))
    .map((r, j) => ({ ...r, origin: `x${j}` }));
})();

/** After the first k recorded requests: the highest holder commitment revoked (if any). */
export const REVOKED_THROUGH: readonly (bigint | undefined)[] = (() => {
  const through: (bigint | undefined)[] = [undefined];
  for (const r of RECORDED) {
    const last = through.at(-1);
    const n = peekType(r.message) === REVOKE_COMMITMENT_TX ? decodeAs('hsmd_revoke_commitment_tx', r.message).commit_num : undefined;
    through.push(n !== undefined && (last === undefined || n > last) ? n : last);
  }
  return through;
})();
/** The fewest recorded requests after which a holder commitment is revoked. */
export const FIRST_REVOKED = REVOKED_THROUGH.findIndex((n) => n !== undefined);

const SIGN_TEMPLATE = RECORDED.find((r) => peekType(r.message) === SIGN_COMMITMENT_TX)!;
/** sign_commitment_tx for our revoked commitment n (the recorded request, commit_num changed). */
export function revokedProbe(n: bigint): Request {
  const message = encodeMessage('hsmd_sign_commitment_tx', { ...decodeAs('hsmd_sign_commitment_tx', SIGN_TEMPLATE.message), commit_num: n });
  return { origin: `p${n}`, label: `${describe(message, SIGN_TEMPLATE.client)} [revoked]`, client: SIGN_TEMPLATE.client, message, revoked: n };
}

/** Where a crash cuts the power while a delivery is handled. */
export type Crash =
  | { readonly at: 'before-append' }
  /** The record appended, not synced: `keep` of its bytes survive (clamped to the record). */
  | { readonly at: 'before-sync'; readonly keep: number }
  /**
   * The record appended, not synced: the size it gave the file reached the disk, only its first
   * `keep` bytes did (modulo its length: torn); the rest reads `blank`: zeros (FAT), or 0xff
   * where the card reads erased sectors so.
   */
  | { readonly at: 'blank-filled'; readonly keep: number; readonly blank: 0x00 | 0xff }
  /** The record synced; the crash comes before the `write`-th file write after it (0: at once), or before the reply. */
  | { readonly at: 'after-sync'; readonly write: number; readonly keep: number };

export type MediaFault =
  | { readonly kind: 'flip'; readonly file: string; readonly offset: number; readonly bit: number }
  /** The last write to `file` keeps `keep` (modulo its length) of its bytes. */
  | { readonly kind: 'tear'; readonly file: string; readonly keep: number }
  /**
   * `bytes` (zeros, 0xff as erased sectors read, or any bytes) over a region of `file`: at
   * `offset` (modulo its size), or, `atEnd`, its last `bytes.length` bytes (a zeroed last page).
   */
  | { readonly kind: 'zero' | 'erase' | 'garbage'; readonly file: string; readonly offset: number; readonly atEnd: boolean; readonly bytes: Uint8Array }
  /** The whole of `file`, reserved space and all, zero-filled (a file whose every block was lost). */
  | { readonly kind: 'zero-file'; readonly file: string }
  /**
   * The whole of `file`, reserved space and all, overwritten with bytes `seed` expands to; with
   * `looksTorn`, their first four announce the longest frame (longer than the file): the shape of
   * a torn first write, which one random file in 256 has.
   */
  | { readonly kind: 'garbage-file'; readonly file: string; readonly seed: number; readonly looksTorn: boolean };

export type Step =
  | { readonly kind: 'deliver'; readonly id: bigint; readonly request: Request; readonly crashes: readonly Crash[] }
  | { readonly kind: 'redeliver'; readonly id: bigint }
  | { readonly kind: 'restart' }
  | { readonly kind: 'media'; readonly fault: MediaFault };

export function crashText(c: Crash): string {
  switch (c.at) {
    case 'before-append':
      return 'CRASH before append';
    case 'before-sync':
      return `CRASH after append, before sync (${c.keep === 0 ? 'unsynced record lost' : `torn at byte ${c.keep}`})`;
    case 'blank-filled': {
      const blank = c.blank === 0 ? 'zeros' : '0xff (erased)';
      return `CRASH after append, before sync (the file keeps the record's length, ${c.keep === 0 ? blank : `its first ${c.keep} bytes (modulo its length) then ${blank}`})`;
    }
    case 'after-sync':
      return c.write === 0
        ? 'CRASH after sync, before reply'
        : `CRASH after sync at snapshot/compaction write ${c.write}${c.keep ? ` (keeping ${c.keep} unsynced bytes)` : ''} (or before reply if none)`;
  }
}

function stepText(s: Step): string {
  switch (s.kind) {
    case 'deliver':
      return [`#${s.id} ${s.request.label}`, ...s.crashes.map((c) => `${crashText(c)}; reboot; redeliver #${s.id}`)].join(';  ');
    case 'redeliver':
      return `redeliver #${s.id} (already answered)`;
    case 'restart':
      return 'RESTART (clean reboot)';
    case 'media':
      switch (s.fault.kind) {
        case 'flip':
          return `FLIP bit ${s.fault.bit} of byte ${s.fault.offset} of ${s.fault.file}; reboot`;
        case 'tear':
          return `TEAR the last write to ${s.fault.file} after byte ${s.fault.keep}; reboot`;
        case 'zero-file':
          return `ZERO the whole of ${s.fault.file}; reboot`;
        case 'garbage-file':
          return `OVERWRITE the whole of ${s.fault.file} (seed ${s.fault.seed}${s.fault.looksTorn ? ', announcing a frame longer than the file' : ''}); reboot`;
        case 'zero':
        case 'erase':
        case 'garbage': {
          const where = s.fault.atEnd ? 'the last' : `from byte ${s.fault.offset}, up to`;
          const what = { zero: 'ZERO', erase: 'ERASE (0xff)', garbage: 'OVERWRITE' }[s.fault.kind];
          return `${what} ${where} ${s.fault.bytes.length} bytes of ${s.fault.file}; reboot`;
        }
      }
  }
}

export class Scenario {
  constructor(
    readonly snapshotEvery: number,
    readonly recentReplies: number,
    readonly steps: readonly Step[],
    /** The journal's reserved space grows by this many bytes (0: a file that only appends, as on the SD card). */
    readonly reserve = 0,
  ) {}

  /** The scenario without its redeliveries of answered ids. */
  withoutRedeliveries(): Scenario {
    return new Scenario(this.snapshotEvery, this.recentReplies, this.steps.filter((s) => s.kind !== 'redeliver'), this.reserve);
  }

  /** A numbered list; runs of plain deliveries of the same request kind fold into one line. */
  toString(): string {
    const lines: string[] = [];
    const plain = (s: Step | undefined): string | undefined => (s?.kind === 'deliver' && s.crashes.length === 0 ? s.request.label.replace(/\(.*$/, '') : undefined);
    for (let i = 0; i < this.steps.length; ) {
      const name = plain(this.steps[i]);
      let j = i + 1;
      while (name !== undefined && plain(this.steps[j]) === name) j++;
      if (j - i > 2) {
        const [a, b] = [this.steps[i] as { id: bigint }, this.steps[j - 1] as { id: bigint }];
        lines.push(`${i + 1}.-${j}. #${a.id}-#${b.id} ${name} x${j - i}`);
      } else for (let k = i; k < j; k++) lines.push(`${k + 1}. ${stepText(this.steps[k]!)}`);
      i = j;
    }
    return `snapshot every ${this.snapshotEvery}, ${this.recentReplies} recent replies kept${this.reserve ? `, journal space reserved ${this.reserve} bytes at a time` : ''}\n  ${lines.join('\n  ')}`;
  }

  [fc.toStringMethod](): string {
    return `\n  ${this.toString()}`;
  }
}

export interface ModelOptions {
  /** Fewest and most recorded requests in the prefix. */
  readonly minPrefix?: number;
  readonly maxPrefix?: number;
  readonly crashes?: boolean;
  readonly redeliveries?: boolean;
  readonly nodeRequests?: boolean;
  readonly probes?: boolean;
  readonly restarts?: boolean;
  /** Also keep few replies across snapshots (2 or 8), so old ids fall out of reach. */
  readonly smallReplyWindow?: boolean;
  /** A media fault after the last step: any, or only a whole file overwritten (`whole-file`). */
  readonly media?: boolean | 'whole-file';
  /** Crashes may also leave the unsynced record's length blank after its first bytes (the SD card's append-only journal: no reserved space). */
  readonly blankFilled?: boolean;
  /** The snapshot intervals to pick from (default 1000, 3, 8, 25). */
  readonly snapshotEvery?: readonly number[];
}

type Insert = { readonly kind: 'redeliver' | 'node' | 'probe'; readonly pick: number } | { readonly kind: 'restart' };

const crashArb: fc.Arbitrary<Crash> = fc.oneof(
  fc.constant({ at: 'before-append' as const }),
  fc.record({ at: fc.constant('before-sync' as const), keep: fc.oneof(fc.constant(0), fc.nat(400)) }),
  fc.record({ at: fc.constant('after-sync' as const), write: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 7 })), keep: fc.oneof(fc.constant(0), fc.nat(200)) }),
);

const blankFilledArb: fc.Arbitrary<Crash> = fc.record({
  at: fc.constant('blank-filled' as const), keep: fc.oneof(fc.constant(0), fc.nat(400)), blank: fc.constantFrom(0x00 as const, 0xff as const),
});

const mediaFile = fc.constantFrom('journal', 'snapshot-a', 'snapshot-b');

const wholeFileArb: fc.Arbitrary<MediaFault> = fc.oneof(
  fc.record({ kind: fc.constant('zero-file' as const), file: mediaFile }),
  fc.record({ kind: fc.constant('garbage-file' as const), file: mediaFile, seed: fc.integer(), looksTorn: fc.boolean() }),
);

const mediaArb: fc.Arbitrary<MediaFault> = fc.oneof(
  wholeFileArb,
  fc.record({ kind: fc.constant('flip' as const), file: mediaFile, offset: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('tear' as const), file: mediaFile, keep: fc.nat(400) }),
  fc.record({
    kind: fc.constantFrom('zero' as const, 'erase' as const), file: mediaFile, offset: fc.nat(), atEnd: fc.boolean(),
    length: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constant(4096)),
  }).map(({ length, ...f }) => ({ ...f, bytes: new Uint8Array(length).fill(f.kind === 'zero' ? 0x00 : 0xff) })),
  fc.record({
    kind: fc.constant('garbage' as const), file: mediaFile, offset: fc.nat(), atEnd: fc.boolean(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 4096 }),
  }),
);

/** Scenarios of a real node with the faults `o` asks for. */
export function scenarios(o: ModelOptions = {}): fc.Arbitrary<Scenario> {
  const inserts: fc.Arbitrary<Insert>[] = [];
  if (o.redeliveries) inserts.push(fc.record({ kind: fc.constant('redeliver' as const), pick: fc.nat() }));
  if (o.nodeRequests) inserts.push(fc.record({ kind: fc.constant('node' as const), pick: fc.nat() }));
  if (o.probes) inserts.push(fc.record({ kind: fc.constant('probe' as const), pick: fc.nat() }));
  if (o.restarts) inserts.push(fc.constant({ kind: 'restart' as const }));
  const none = fc.constant([] as never[]);
  return fc
    .record({
      prefix: fc.integer({ min: o.minPrefix ?? 1, max: o.maxPrefix ?? RECORDED.length }),
      snapshotEvery: fc.constantFrom(...(o.snapshotEvery ?? [1000, 3, 8, 25])),
      // docs/journal.md "Reserved space": stretches smaller than a record, and larger.
      reserve: o.blankFilled ? fc.constant(0) : fc.constantFrom(0, 0, 64, 700, 4096),
      recentReplies: o.smallReplyWindow ? fc.constantFrom(1000, 2, 8) : fc.constant(1000),
      inserts: inserts.length ? fc.array(fc.record({ after: fc.nat(), insert: fc.oneof(...inserts) }), { maxLength: 10 }) : none,
      crashes: o.crashes ? fc.array(fc.record({ at: fc.nat(), crash: o.blankFilled ? fc.oneof(crashArb, blankFilledArb) : crashArb }), { maxLength: 6 }) : none,
      media: o.media ? (o.media === 'whole-file' ? wholeFileArb : mediaArb).map((m) => [m]) : none,
    })
    .map(({ prefix, snapshotEvery, recentReplies, reserve, inserts, crashes, media }) => {
      // Inserts go after recorded request 1..prefix (after init); equal positions keep their order.
      const at = (after: number) => 1 + (after % prefix);
      const byPosition = [...inserts].map((x, i) => ({ ...x, i })).sort((a, b) => at(a.after) - at(b.after) || a.i - b.i);
      const steps: Step[] = [];
      let id = 0n;
      let next = 0;
      const deliver = (request: Request) => steps.push({ kind: 'deliver', id: ++id, request, crashes: [] });
      for (let k = 1; k <= prefix; k++) {
        deliver(RECORDED[k - 1]!);
        while (next < byPosition.length && at(byPosition[next]!.after) === k) {
          const { insert } = byPosition[next++]!;
          if (insert.kind === 'restart') steps.push({ kind: 'restart' });
          else if (insert.kind === 'redeliver') steps.push({ kind: 'redeliver', id: 1n + (BigInt(insert.pick) % id) });
          else if (insert.kind === 'node') deliver(NODE_REQUESTS[insert.pick % NODE_REQUESTS.length]!);
          else {
            const through = REVOKED_THROUGH[k];
            if (through !== undefined) deliver(revokedProbe(BigInt(insert.pick) % (through + 1n)));
          }
        }
      }
      const deliveries = steps.flatMap((s, i) => (s.kind === 'deliver' ? [i] : []));
      for (const { at: pick, crash } of crashes) {
        const i = deliveries[pick % deliveries.length]!;
        const d = steps[i] as Step & { kind: 'deliver' };
        steps[i] = { ...d, crashes: [...d.crashes, crash] };
      }
      for (const fault of media) steps.push({ kind: 'media', fault });
      return new Scenario(snapshotEvery, recentReplies, steps, reserve);
    });
}

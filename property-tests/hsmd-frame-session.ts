/**
 * The frame property's session (hsmd-frames.test.ts): the real bin/sphinx-hsmd in local mode,
 * driven as lightningd drives it (demo/sim-lightningd.ts). The recording session-basic-l1 is
 * replayed, and between its exchanges extra clients, which are not the recorded channel's
 * (other peers, other dbids), send malformed frames (frame-mutations.ts). Each frame must get
 * a well-formed reply, or close only its client with hsmstatus_client_bad_request on the status
 * socket as hsmd.c bad_req_fmt does (a frame the framing itself refuses closes it without a
 * report, as wire_io.c does); hsmd never stops, and the recorded session replays byte for byte
 * through it all (docs/hsmd-protocol.md#bad-requests).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import fc from 'fast-check';
import type { StatusMessage } from '../broker/status-wire.js';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { HSM_PERM_MASTER, REQUIRED_PERMISSION, mayRequest, permissionNames } from '../signer/permissions.js';
import { decodeMessage, encodeHsmdMessage, requestType } from '../signer/wire/messages.js';
import { fixturePath } from '../test/fixtures.js';
import { Closed, type SyncConnection, Timeout } from '../test/sync-wire.js';
import { type Exchange, loadTranscript, replayExchanges } from '../test/transcript.js';
import {
  type FrameCase, type Framed, deliver, describeDelivery, describeMutation, frameCase, framesOf, hex, mutate, typeName,
} from './frame-mutations.js';

const SESSION = loadTranscript(fixturePath('transcripts/session-basic-l1.jsonl'));
const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));
/** The start lightningd makes: init, the wallet key checks, connectd's and gossipd's clients. */
const START = SESSION.exchanges.slice(0, SESSION.exchanges.findIndex((e) => e.creates === 'c2') + 1);
const REST = SESSION.exchanges.slice(START.length);
const RECORDED_PEER = SESSION.exchanges.find((e) => e.conn === 'c4')!.peer!;
const OUR_ID = SESSION.exchanges.find((e) => e.creates === 'c1')!.req.slice(4, 70);
const nodeId = (k: bigint): string => hex(secp256k1.Point.BASE.multiply(k).toBytes(true));

/**
 * The recorded requests the frames are made from. The recorded channel's peer id, which the
 * master's requests carry (new_channel, forget_channel, sign_commitment_tx, ...), is replaced
 * by another's, so no request an extra client may send can act on the recorded channel.
 */
const BASES: ReadonlyArray<{ seq: number; body: Uint8Array }> = SESSION.exchanges.map((e) => ({
  seq: e.seq,
  body: fromHex(e.req.replaceAll(RECORDED_PEER, nodeId(3n))),
}));
const BASE_BODIES = BASES.map((b) => b.body);

/** The reply types CLN gave each request type in the recording. */
const RECORDED_REPLY_TYPES = new Map<number, Set<number>>();
for (const e of SESSION.exchanges.filter((e) => e.rep !== null)) {
  const types = RECORDED_REPLY_TYPES.get(requestType(fromHex(e.req))) ?? new Set<number>();
  RECORDED_REPLY_TYPES.set(requestType(fromHex(e.req)), types.add(requestType(fromHex(e.rep!))));
}

interface ExtraClient {
  role: string;
  peer: string;
  dbid: bigint;
  permissions: bigint;
}

/**
 * lightningd's subdaemons' permission sets (docs/hsmd-protocol.md#client-sockets), every bit
 * but MASTER, and every bit; dbids other than the recording's (0 and 1), each its own.
 */
const CLIENTS: readonly ExtraClient[] = [
  ['connectd', OUR_ID, 0x1n],
  ['gossipd', OUR_ID, 0x3n],
  ['openingd', nodeId(2n), 0x18n],
  ['dualopend', nodeId(2n), 0x158n],
  ['channeld', nodeId(3n), 0x1bfn],
  ['closingd', nodeId(3n), 0x28n],
  ['onchaind', nodeId(4n), 0xcn],
  ['every bit but MASTER', nodeId(4n), 0x3ffn],
  ['every bit', nodeId(5n), 0x7ffn],
].map(([role, peer, permissions], i) => ({ role: role as string, peer: peer as string, dbid: 0x100n + BigInt(i), permissions: permissions as bigint }));
const ALL_BUT_MASTER = CLIENTS.findIndex((c) => c.permissions === 0x3ffn);
/** For each extra client, the recorded requests it may send. */
const FITTING = CLIENTS.map((c) => BASES.filter((b) => mayRequest(c.permissions, requestType(b.body))));
if (FITTING.some((f) => f.length === 0)) throw new Error('every extra client may send some recorded request');

/**
 * Requests with which a client holding MASTER stops hsmd, as it stops CLN's (init, dev_preinit
 * without --developer, a wallet key check that fails, an index too great:
 * docs/hsmd-protocol.md#the-differential-lane). lightningd gives no client MASTER; such frames
 * go to the client with every other bit instead, whose gate refuses them.
 */
const STOPS_HSMD_FROM_MASTER = new Set([11, 99, 28, 56, 45]);

/** What the frames did, over all runs. */
export interface FrameStats {
  frames: number;
  replied: number;
  refused: number;
  closedInsideFrame: number;
  tooLong: number;
}
export const noStats = (): FrameStats => ({ frames: 0, replied: 0, refused: 0, closedInsideFrame: 0, tooLong: 0 });

type Outcome = { kind: 'reply'; body: Uint8Array } | { kind: 'closed' } | { kind: 'silent' };
/** How long a reply may take, and a status message after what it reports: fail-safes, not timings asserted. */
const REPLY_MS = 10_000;
const STATUS_MS = 2000;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** What a reply must be to the request `frame` (undefined: it is), else what is wrong with it. */
function replyProblem(frame: Uint8Array, reply: Uint8Array): string | undefined {
  let decoded;
  try {
    decoded = decodeMessage(reply);
  } catch (e) {
    return `a reply that does not parse: ${(e as Error).message}`;
  }
  if (decoded.name in REQUIRED_PERMISSION) return `a reply of a request's type, ${typeName(requestType(reply))}`;
  if (hex(encodeHsmdMessage(decoded)) !== hex(reply)) return 'a reply with bytes after its fields';
  const recorded = RECORDED_REPLY_TYPES.get(requestType(frame));
  if (recorded && !recorded.has(requestType(reply))) {
    return `a reply of type ${typeName(requestType(reply))}; CLN answered ${typeName(requestType(frame))} with ${[...recorded].map(typeName).join(', ')}`;
  }
  return undefined;
}

class FrameFailure extends Error {
  override readonly name = 'FrameFailure';
}

/** One hsmd and its session; `run` sends `cases` between the recorded exchanges. */
class FrameSession {
  private readonly conns = new Map<string, SyncConnection>();
  private readonly extra: Array<SyncConnection | undefined> = CLIENTS.map(() => undefined);
  /** Status messages already explained by a case. */
  private readonly explained = new Set<StatusMessage>();
  private sent = 0;

  constructor(
    private readonly ld: SimLightningd,
    private readonly stats: FrameStats,
  ) {}

  async run(cases: readonly FrameCase[]): Promise<void> {
    this.replay(START);
    const queue = [...cases].sort((a, b) => a.at - b.at);
    for (const [i, exchange] of REST.entries()) {
      while (queue[0]?.at === i) await this.send(queue.shift()!, exchange);
      await turn(); // lets the status socket drain
      this.replay([exchange]);
    }
    this.checkStatus();
    const exit = await this.ld.stop();
    if (exit.code !== 2) throw new FrameFailure(`hsmd ended with ${exit.code ?? exit.signal} when the master closed, not 2 (master_gone)`);
  }

  private replay(exchanges: readonly Exchange[]): void {
    const result = replayExchanges(this.ld, exchanges, undefined, this.conns);
    const m = result.mismatches[0];
    if (m) throw new FrameFailure(`after ${this.sent} frames, the recorded seq ${m.seq} (${typeName(m.type)} on ${m.conn}) got ${m.got}, recorded ${m.expected}\n${this.statusTail()}`);
  }

  /** An extra client's connection, asked of the master when it has none. */
  private client(i: number): SyncConnection {
    const c = CLIENTS[i]!;
    return (this.extra[i] ??= this.ld.hsmfd(fromHex(c.peer), c.dbid, c.permissions));
  }

  private drop(i: number): void {
    this.extra[i]?.close();
    this.extra[i] = undefined;
  }

  private async send(c: FrameCase, before: Exchange): Promise<void> {
    const fitting = FITTING[c.client]!;
    const base = c.fitting ? fitting[c.base % fitting.length]! : BASES[c.base]!;
    let body = base.body;
    const steps: string[] = [];
    for (const m of c.mutations) {
      steps.push(describeMutation(m, body, BASE_BODIES, (k) => `${typeName(requestType(BASES[k]!.body))} of seq ${BASES[k]!.seq}`));
      body = mutate(body, m, BASE_BODIES);
    }
    const who = CLIENTS[c.client]!.permissions & HSM_PERM_MASTER && STOPS_HSMD_FROM_MASTER.has(requestType(body)) ? ALL_BUT_MASTER : c.client;
    const client = CLIENTS[who]!;
    const writes = deliver(body, c.delivery);
    const framed = framesOf(Uint8Array.from(Buffer.concat(writes)));
    this.sent++;
    this.stats.frames++;
    const fail = (what: string): never => {
      throw new FrameFailure(
        `frame ${this.sent} (before seq ${before.seq}), from ${client.role} (peer ${client.peer.slice(0, 16)}..., dbid ${client.dbid}, ` +
          `permissions ${permissionNames(client.permissions)}):\n  ${typeName(requestType(base.body))} of seq ${base.seq}, ${steps.join(', then ')}, ` +
          `${describeDelivery(c.delivery, writes)}\n  frame (hex): ${hex(body)}\n` +
          (framed.frames.length === 1 && hex(framed.frames[0]!) === hex(body) ? '' : `  frames as hsmd reads them: ${framed.frames.map(hex).join(' | ') || '(none)'}, then ${framed.end}\n`) +
          `  ${what}\n${this.statusTail()}`,
      );
    };
    const conn = this.client(who);
    if (conn.readable(0)) fail('before it was sent, the client could already read (an extra reply, or a close)');
    for (const [k, bytes] of writes.entries()) {
      if (k > 0) await new Promise((resolve) => setTimeout(resolve, 1));
      if (!this.write(conn, bytes)) break; // hsmd closed it: the frames read so far say why
    }
    await this.expectAnswers(conn, who, framed, fail);
    const { exitCode, signalCode } = this.ld.child;
    if (exitCode !== null || signalCode !== null) fail(`hsmd exited (${exitCode ?? signalCode})`);
  }

  /**
   * What hsmd must do with the frames it reads from a client: a well-formed reply to each, until
   * one it refuses closes the client with hsmstatus_client_bad_request for that frame; a length
   * at WIRE_LEN_LIMIT closes it with a log line; a client that ends inside a frame is dropped.
   */
  private async expectAnswers(conn: SyncConnection, who: number, framed: Framed, fail: (what: string) => never): Promise<void> {
    const client = CLIENTS[who]!;
    for (const frame of framed.frames) {
      const outcome = await outcomeOf(conn);
      if (outcome.kind === 'silent') fail(`no reply within ${REPLY_MS} ms, and the connection still open`);
      if (outcome.kind === 'reply') {
        const problem = replyProblem(frame, outcome.body);
        if (problem) fail(`${problem}: ${hex(outcome.body)}`);
        this.stats.replied++;
        continue;
      }
      const report = await this.nextStatus((m) => m.kind === 'badRequest');
      if (report?.kind !== 'badRequest') return fail('closed, without hsmstatus_client_bad_request on the status socket');
      if (hex(report.id) !== client.peer || hex(report.msg) !== hex(frame)) {
        fail(`closed, but the bad request reported is ${hex(report.id)}'s ${hex(report.msg)} ("${report.description}")`);
      }
      if (report.description.startsWith('internal error')) fail(`closed on our own error: ${report.description}`);
      this.stats.refused++;
      return this.drop(who);
    }
    if (framed.end === 'too long') {
      if ((await outcomeOf(conn)).kind !== 'closed') fail('a length at WIRE_LEN_LIMIT, and the connection was not closed');
      const logged = await this.nextStatus((m) => m.kind === 'log' && m.entry.includes(`(dbid ${client.dbid}): connection broken: frame length`));
      if (!logged) fail('closed for its length, without saying so in the log');
      this.stats.tooLong++;
      this.drop(who);
    } else if (framed.end === 'partial') {
      this.drop(who); // the client ends inside a frame
      const logged = await this.nextStatus((m) => m.kind === 'log' && m.entry.includes(`(dbid ${client.dbid}): connection broken: connection closed inside a frame`));
      if (!logged) fail('the client closed inside a frame, and hsmd did not say it dropped the connection');
      this.stats.closedInsideFrame++;
    }
  }

  private write(conn: SyncConnection, bytes: Uint8Array): boolean {
    try {
      conn.writeAll(bytes);
      return true;
    } catch (err) {
      if (['EPIPE', 'ECONNRESET'].includes((err as NodeJS.ErrnoException).code ?? '')) return false;
      throw err;
    }
  }

  /** The first status message matching `match` that no case has explained yet; marked explained. */
  private async nextStatus(match: (m: StatusMessage) => boolean): Promise<StatusMessage | undefined> {
    const found = await this.ld.waitForStatus((m) => match(m) && !this.explained.has(m), STATUS_MS).catch(() => undefined);
    if (found) this.explained.add(found);
    return found;
  }

  /** Nothing on the status socket a frame did not explain: no status_fail, no other bad request, nothing BROKEN else. */
  private checkStatus(): void {
    const reported = new Set(
      [...this.explained].flatMap((m) => (m.kind === 'badRequest' ? [`${hex(m.id)}: ${m.description}`] : [])),
    );
    const unexplained = this.ld.statusMessages.filter(
      (m) => m.kind === 'fail' || (m.kind === 'badRequest' && !this.explained.has(m)) || (m.kind === 'log' && m.level === 6 && !reported.has(m.entry)),
    );
    if (unexplained.length > 0) throw new FrameFailure(`status messages no frame explains:\n${this.ld.describeStatus().split('\n').filter((_, i) => unexplained.includes(this.ld.statusMessages[i]!)).join('\n')}`);
  }

  private statusTail(): string {
    return `  hsmd's status socket, last lines:\n${this.ld.describeStatus().split('\n').slice(-8).map((l) => `    ${l}`).join('\n')}`;
  }
}

/** A reply, a close, or silence (nothing for REPLY_MS while the connection stays open). */
async function outcomeOf(conn: SyncConnection): Promise<Outcome> {
  const deadline = Date.now() + REPLY_MS;
  // Short polls with turns of the event loop between them: the status socket must drain.
  while (!conn.readable(2)) {
    if (Date.now() > deadline) return { kind: 'silent' };
    await turn();
  }
  try {
    return { kind: 'reply', body: conn.receive(REPLY_MS) };
  } catch (err) {
    if (err instanceof Closed) return { kind: 'closed' };
    if (err instanceof Timeout) return { kind: 'silent' };
    throw err;
  }
}

/** The property: up to `maxFrames` malformed frames in one replay of the session. */
export function framesLeaveTheSessionIntact(maxFrames: number, stats: FrameStats = noStats()): fc.IAsyncProperty<[FrameCase[]]> {
  const cases = fc.array(frameCase(REST.length, CLIENTS.length, BASES.length), { minLength: 1, maxLength: maxFrames, size: 'max' });
  return fc.asyncProperty(cases, async (list) => {
    const ld = await SimLightningd.start({
      hsmSecret: fromHex(SESSION.header.hsm_secret),
      args: SESSION.header.hsmd_args,
      env: { SPHINX_SIGNER: 'local', SPHINX_CLN_VERSION: SESSION.header.cln_version },
    });
    try {
      await new FrameSession(ld, stats).run(list);
    } finally {
      ld.cleanup();
    }
  });
}

/**
 * The differential lane's two hsmds (docs/hsmd-protocol.md#the-differential-lane): CLN's own
 * lightning_hsmd (the executable SPHINX_CLN_HSMD names) and our bin/sphinx-hsmd in local mode,
 * each spawned as lightningd spawns its hsmd, with the same hsm_secret and flags. Every request
 * goes to both over the same kind of connection; what each did with it is an `Outcome`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { SimLightningd } from '../demo/sim-lightningd.js';
import type { StatusMessage } from '../broker/status-wire.js';
import { Closed, type SyncConnection, Timeout } from './sync-wire.js';
import { fixturePath, repoRoot } from './fixtures.js';
import { type Exchange, type Transcript, type TranscriptHeader, loadTranscript } from './transcript.js';
import { WireError } from '../signer/wire/errors.js';
import { decodeMessage, messageType } from '../signer/wire/messages.js';

export const CLN_HSMD = process.env['SPHINX_CLN_HSMD'] || undefined;
export const NO_CLN_HSMD =
  "no CLN hsmd: set SPHINX_CLN_HSMD to CLN v25.12.1's lightning_hsmd (docs/hsmd-protocol.md#the-differential-lane)";

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const REPLY_MS = 5000;

/** What an hsmd did with one request. */
export type Outcome =
  | { kind: 'reply'; hex: string }
  /** It closed the connection (a bad request); `why` is its bad_request status message. */
  | { kind: 'closed'; why: string }
  /** It stopped: status_fail with `reason` (docs/hsmd-protocol.md#bad-requests). */
  | { kind: 'fatal'; reason: number; why: string }
  | { kind: 'timeout' };

/** The same outcome, as far as lightningd can tell (docs/hsmd-protocol.md#bad-requests). */
export function sameOutcome(a: Outcome, b: Outcome): boolean {
  if (a.kind === 'reply' && b.kind === 'reply') return a.hex === b.hex;
  if (a.kind === 'fatal' && b.kind === 'fatal') return a.reason === b.reason;
  return a.kind === b.kind;
}

export function describeOutcome(o: Outcome): string {
  switch (o.kind) {
    case 'reply':
      return o.hex;
    case 'closed':
      return `closed (${o.why})`;
    case 'fatal':
      return `stopped (status_fail ${o.reason}: ${o.why})`;
    case 'timeout':
      return 'no reply';
  }
}

const GONE: Outcome = { kind: 'closed', why: 'the connection was closed before this request' };

export interface Answers {
  req: string;
  cln: Outcome;
  ours: Outcome;
}

/** One connection of each hsmd, with the same (peer, dbid, permissions). */
export class PairConnection {
  constructor(
    private readonly pair: HsmdPair,
    readonly cln: SyncConnection,
    readonly ours: SyncConnection,
  ) {}

  /** Sends `req` (a frame body, or raw bytes with `raw`) to both, then waits for both outcomes. */
  async ask(req: Uint8Array | string, raw = false): Promise<Answers> {
    const bytes = typeof req === 'string' ? Buffer.from(req, 'hex') : req;
    // The replies are read blocking; let the event loop drain the status sockets first, or an
    // hsmd that logs every request (CLN's) blocks on a full one.
    await new Promise((resolve) => setImmediate(resolve));
    const sent = [this.cln, this.ours].map((conn) => {
      try {
        if (raw) conn.writeAll(bytes);
        else conn.send(bytes);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
        return false;
      }
    });
    const cln = sent[0] ? await this.outcome(this.pair.cln, this.cln, bytes) : GONE;
    const ours = sent[1] ? await this.outcome(this.pair.ours, this.ours, bytes) : GONE;
    return { req: hex(bytes), cln, ours };
  }

  private async outcome(ld: SimLightningd, conn: SyncConnection, sent: Uint8Array): Promise<Outcome> {
    // Wait in short polls, letting the event loop drain the status sockets between them: an
    // hsmd that logs much before it answers or stops (CLN's backtrace) blocks on a full one.
    const deadline = Date.now() + REPLY_MS;
    while (!conn.readable(10)) {
      if (Date.now() > deadline) return { kind: 'timeout' };
      await new Promise((resolve) => setImmediate(resolve));
    }
    try {
      return { kind: 'reply', hex: hex(conn.receive(REPLY_MS)) };
    } catch (err) {
      if (err instanceof Timeout) return { kind: 'timeout' };
      if (!(err instanceof Closed)) throw err;
    }
    // Why: a status_fail (the process stops) or a bad_request not already taken for another close.
    const said = await ld
      .waitForStatus((m) => m.kind === 'fail' || (m.kind === 'badRequest' && !this.pair.seen.has(m)), 2000)
      .catch(() => undefined);
    if (said?.kind === 'fail') return { kind: 'fatal', reason: said.reason, why: said.desc };
    if (said?.kind !== 'badRequest') return { kind: 'closed', why: 'nothing on the status socket' };
    this.pair.seen.add(said);
    return { kind: 'closed', why: `bad_request ${hex(said.id)} ${hex(said.msg) === hex(sent) ? '' : `(for ${hex(said.msg)}) `}${said.description}` };
  }
}

export class HsmdPair {
  /** Status messages already taken as the reason of a close. */
  readonly seen = new Set<StatusMessage>();
  private constructor(
    readonly cln: SimLightningd,
    readonly ours: SimLightningd,
    readonly master: PairConnection,
  ) {}

  /** Both hsmds with the transcript's hsm_secret and flags; nothing sent yet. */
  static async start(header: TranscriptHeader, env: Record<string, string> = {}): Promise<HsmdPair> {
    const options = { hsmSecret: Buffer.from(header.hsm_secret, 'hex'), args: header.hsmd_args, timeoutMs: REPLY_MS };
    const cln = await SimLightningd.start({ ...options, hsmd: CLN_HSMD! });
    // A fresh SPHINX_DATA_DIR in the simulated network directory (SimLightningd's default).
    const ours = await SimLightningd.start({
      ...options,
      env: { SPHINX_SIGNER: 'local', SPHINX_CLN_VERSION: header.cln_version, SPHINX_CLN_HSMD: undefined, ...env },
    }).catch((err: unknown) => {
      cln.cleanup();
      throw err;
    });
    const pair = new HsmdPair(cln, ours, undefined as unknown as PairConnection);
    (pair as { master: PairConnection }).master = new PairConnection(pair, cln.master, ours.master);
    return pair;
  }

  /** hsmd_client_hsmfd on both masters; the new client connections. */
  async client(peer: Uint8Array, dbid: bigint, permissions: bigint): Promise<PairConnection> {
    return new PairConnection(this, this.cln.hsmfd(peer, dbid, permissions), this.ours.hsmfd(peer, dbid, permissions));
  }

  /**
   * Replays recorded exchanges on both (their connections by the recording's names), each reply
   * checked against the recording: the context the variants are sent in. Returns the connections.
   */
  async replay(exchanges: readonly Exchange[], conns = new Map<string, PairConnection>()): Promise<Map<string, PairConnection>> {
    conns.set('master', this.master);
    for (const ex of exchanges) {
      const conn = conns.get(ex.conn);
      if (!conn) throw new Error(`seq ${ex.seq}: no connection ${ex.conn}`);
      if (ex.rep === null) throw new Error(`seq ${ex.seq}: the replay sends only requests with replies`);
      const a = await conn.ask(ex.req);
      for (const [who, o] of [['CLN', a.cln], ['ours', a.ours]] as const) {
        if (o.kind !== 'reply' || o.hex !== ex.rep) throw new Error(`seq ${ex.seq}: ${who} answered ${describeOutcome(o)}, recorded ${ex.rep}`);
      }
      if (ex.creates) {
        conns.set(ex.creates, new PairConnection(this, this.cln.adoptClientFd(this.cln.master.receiveFd()), this.ours.adoptClientFd(this.ours.master.receiveFd())));
      }
    }
    return conns;
  }

  /** How each process ended, after its master connection was closed. */
  async stop(): Promise<{ cln: string; ours: string }> {
    const [cln, ours] = await Promise.all([this.cln.stop(), this.ours.stop()]);
    return { cln: `${cln.code ?? cln.signal}`, ours: `${ours.code ?? ours.signal}` };
  }

  /** How each process ended on its own (after a fatal request on the master). */
  async exits(): Promise<{ cln: number | null; ours: number | null }> {
    const [cln, ours] = await Promise.all([this.cln.exited(), this.ours.exited()]);
    return { cln: cln.code, ours: ours.code };
  }

  cleanup(): void {
    this.cln.cleanup();
    this.ours.cleanup();
  }
}

export const L1 = loadTranscript(fixturePath('transcripts/session-basic-l1.jsonl'));
export const MNEMONIC = loadTranscript(fixturePath('transcripts/hsmd-basic-mnemonic.jsonl'));
export const upTo = (exchanges: readonly Exchange[], seq: number): Exchange[] => exchanges.filter((e) => e.seq <= seq);

/**
 * Asks each request on `conn` (until one ends the connection) and asserts both hsmds did the
 * same with each: the same reply bytes, both closing the client, or both stopping alike; and,
 * with `last`, what CLN did with the last one. `{ raw }` is sent as it is, without a length.
 */
export async function compareAll(t: TestContext, conn: PairConnection, requests: ReadonlyArray<Uint8Array | { raw: Uint8Array }>, last?: Outcome['kind']): Promise<Answers[]> {
  const answers: Answers[] = [];
  for (const req of requests) {
    const a = req instanceof Uint8Array ? await conn.ask(req) : await conn.ask(req.raw, true);
    answers.push(a);
    if (a.cln.kind !== 'reply' || a.ours.kind !== 'reply') break; // the connection (or hsmd) is gone
  }
  if (answers.length < requests.length) t.diagnostic(`${requests.length - answers.length} requests not sent: the connection ended`);
  const differ = answers.filter((a) => !sameOutcome(a.cln, a.ours));
  assert.deepEqual(
    differ.map((a) => ({ req: a.req, cln: describeOutcome(a.cln), ours: describeOutcome(a.ours) })),
    [],
    'requests CLN and our hsmd answer differently',
  );
  t.diagnostic(`${answers.length} requests, ${answers.filter((a) => a.cln.kind === 'reply').length} answered, the same by both`);
  const end = answers.at(-1);
  if (end && end.cln.kind !== 'reply') t.diagnostic(`the last: CLN ${describeOutcome(end.cln)}; ours ${describeOutcome(end.ours)}`);
  if (last) assert.equal(answers.at(-1)?.cln.kind, last, `CLN's outcome of the last request: ${describeOutcome(answers.at(-1)!.cln)}`);
  return answers;
}

/** compareAll, for a test's body. */
export async function compare(...args: Parameters<typeof compareAll>): Promise<void> {
  await compareAll(...args);
}

/** A pair that has replayed `exchanges` (checked against the recording); stopped after the test. */
export async function pairAfter(t: TestContext, exchanges: readonly Exchange[], header = L1.header): Promise<{ pair: HsmdPair; conns: Map<string, PairConnection> }> {
  const pair = await HsmdPair.start(header);
  t.after(() => pair.cleanup());
  return { pair, conns: await pair.replay(exchanges) };
}

/** docs/policies.md's table: each rule and the request type numbers it lists. */
export function documentedRules(): Map<string, number[]> {
  const rules = new Map<string, number[]>();
  for (const line of readFileSync(join(repoRoot, 'docs', 'policies.md'), 'utf8').split('\n')) {
    const m = /^\| `(policy-[a-z-]+)` \| ([^|]+) \|/.exec(line);
    if (m) rules.set(m[1]!, [...m[2]!.matchAll(/\((\d+)\)|\b(\d+)\b/g)].map((n) => Number(n[1] ?? n[2])));
  }
  return rules;
}

/** How CLN's answer differs from ours, when the difference is one we know (else undefined). */
export interface Known {
  label: string;
  /** A difference we should remove (reported, not yet fixed), rather than one we keep on purpose. */
  todo: boolean;
}

/** CLN's hsmd crashing (a signal) where ours does not stop (kept: we will not crash lightningd's node). */
export function clnCrashes(a: Answers): Known | undefined {
  const crashed = a.cln.kind === 'fatal' && a.cln.why === 'FATAL SIGNAL' && a.ours.kind !== 'fatal';
  return crashed ? { label: 'CLN crashes, we do not', todo: false } : undefined;
}

/**
 * libwally refusing to sign (docs/hsmd-protocol.md#the-differential-lane): CLN stops (status_fail
 * INTERNAL) and we refuse the request (kept: a bad request; from the master, which sends the
 * wallet requests, that stops our hsmd too).
 */
export function wallyRefusesToSign(a: Answers): Known | undefined {
  const refused = a.cln.kind === 'fatal' && a.cln.why.startsWith('Received wally_err attempting to sign input ') && a.ours.kind === 'closed';
  return refused ? { label: 'libwally refuses to sign: CLN stops, we refuse the request', todo: false } : undefined;
}

const RULES = documentedRules();

/**
 * Why CLN and ours may answer a changed request differently (the lane's kept differences,
 * docs/hsmd-protocol.md#the-differential-lane), or undefined: a rule of docs/policies.md our
 * signer enforces for that request type, CLN crashing, libwally refusing to sign, our check
 * that a `bitcoin_tx`'s PSBT describes its transaction, a `wirestring` that is not UTF-8.
 */
export function keptDifference(a: Answers): string | undefined {
  const type = parseInt(a.req.slice(0, 4), 16);
  if (a.cln.kind === 'fatal') return clnCrashes(a)?.label ?? wallyRefusesToSign(a)?.label;
  if (a.ours.kind !== 'closed') return undefined;
  const rule = /(policy-[a-z-]+)/.exec(a.ours.why)?.[1];
  if (rule && RULES.get(rule)?.includes(type)) return rule;
  if (a.ours.why.endsWith(' PSBT does not describe the transaction')) return 'the PSBT does not describe the transaction';
  try {
    decodeMessage(Buffer.from(a.req, 'hex'));
  } catch (e) {
    if (e instanceof WireError && e.message.includes('not valid UTF-8')) return 'a wirestring that is not UTF-8';
  }
  return undefined;
}

/** A request changed from a recorded one (`from`): it goes to a client of `from`'s channel. */
export interface Variant {
  readonly req: Uint8Array;
  readonly from: Exchange;
}

/**
 * After both hsmds replayed `transcript` (every exchange with a reply), each variant is sent on
 * a new client of its recorded request's channel with every permission; a node request on a
 * client of its own (not dbid 0: CLN keeps three clients of dbid 0, lightningd's and its two
 * daemons'). Both must answer alike but for `keptDifference`; a pair an hsmd left (stopped,
 * crashed or silent) is replaced, the session replayed again.
 */
export async function compareVariants(t: TestContext, transcript: Transcript, variants: readonly Variant[]): Promise<void> {
  const start = async (): Promise<HsmdPair> => {
    const started = await HsmdPair.start(transcript.header);
    await started.replay(transcript.exchanges.filter((e) => e.rep !== null));
    return started;
  };
  const someone = Buffer.from((transcript.exchanges.find((e) => e.peer) ?? L1.exchanges.find((e) => e.peer))!.peer!, 'hex');
  let pair = await start();
  let nodeDbid = 100_000n;
  const outcomes: Record<string, number> = {};
  const unexplained: Array<{ req: string; cln: string; ours: string }> = [];
  try {
    for (let i = 0, retried = false; i < variants.length; ) {
      const { req, from } = variants[i]!;
      const channel = from.peer !== null && BigInt(from.dbid) !== 0n;
      const [peer, dbid] = channel ? [Buffer.from(from.peer!, 'hex'), BigInt(from.dbid)] : [someone, nodeDbid++];
      const client = await pair.client(peer, dbid, 0x7ffn).catch(() => undefined);
      if (!client) {
        // An hsmd ended after it answered an earlier request: CLN's heap checks abort it some
        // requests after its use after free (docs/hsmd-protocol.md). Ours must never.
        const [cln, ours] = await Promise.all([pair.cln, pair.ours].map((ld) => ld.exited(2000).then((e) => `${e.code ?? e.signal}`, () => undefined)));
        if (ours !== undefined || retried) unexplained.push({ req: hex(req), cln: `before it: ${cln ?? 'running'}`, ours: `before it: ${ours ?? 'running'}` });
        const why = `an hsmd ended after answering an earlier request (CLN: ${cln ?? 'running'}, ours: ${ours ?? 'running'})`;
        outcomes[why] = (outcomes[why] ?? 0) + 1;
        pair.cleanup();
        pair = await start();
        if (retried) i++;
        retried = !retried;
        continue;
      }
      i++;
      retried = false;
      const a = await client.ask(req);
      const why = sameOutcome(a.cln, a.ours) ? `alike, CLN ${a.cln.kind}` : keptDifference(a);
      if (!why) unexplained.push({ req: a.req, cln: describeOutcome(a.cln), ours: describeOutcome(a.ours) });
      outcomes[why ?? 'unexplained'] = (outcomes[why ?? 'unexplained'] ?? 0) + 1;
      if (a.cln.kind === 'fatal' || a.ours.kind === 'fatal' || a.cln.kind === 'timeout' || a.ours.kind === 'timeout') {
        pair.cleanup();
        pair = await start();
      }
    }
  } finally {
    pair.cleanup();
  }
  t.diagnostic(`${variants.length} requests: ${JSON.stringify(outcomes)}`);
  assert.deepEqual(unexplained, [], 'requests CLN and our hsmd answer differently');
}

/** The recorded requests after init that a variant may start from (not hsmd_client_hsmfd, which the broker answers itself). */
export const variantBases = (transcript: Transcript): Exchange[] =>
  transcript.exchanges.filter((e) => e.seq > 1 && parseInt(e.req.slice(0, 4), 16) !== messageType('hsmd_client_hsmfd'));

type Difference = { req: string; cln: string; ours: string; known: string | undefined };
/** The node id of compareEachOnItsClient's clients (the session's peer). */
const CLIENT_ID = Buffer.from(L1.exchanges.find((e) => e.conn === 'c4')!.peer!, 'hex');

/**
 * Each request on its own client with every permission (so a request CLN cannot parse closes only
 * that client), on a pair of `transcript`'s hsmds after its init; a pair an hsmd left (stopped) is
 * replaced by a fresh one. Differences `known` does not explain fail the test; the known ones
 * marked todo are listed in a subtest marked TODO with `todoLabel`.
 */
export async function compareEachOnItsClient(t: TestContext, transcript: Transcript, requests: readonly Uint8Array[], known: (a: Answers) => Known | undefined, todoLabel: string): Promise<void> {
  let pair: HsmdPair | undefined;
  let dbid = 1000n;
  const outcomes: Record<string, number> = {};
  const unexplained: Difference[] = [];
  const todo: Difference[] = [];
  try {
    for (const req of requests) {
      if (!pair) {
        pair = await HsmdPair.start(transcript.header);
        await pair.replay(upTo(transcript.exchanges, 1));
      }
      const a = await (await pair.client(CLIENT_ID, dbid++, 0x7ffn)).ask(req);
      const why = sameOutcome(a.cln, a.ours) ? { label: `alike, CLN ${a.cln.kind}`, todo: false } : known(a);
      const difference = { req: a.req, cln: describeOutcome(a.cln), ours: describeOutcome(a.ours), known: why?.label };
      if (!why) unexplained.push(difference);
      else if (why.todo) todo.push(difference);
      const key = why?.label ?? `${a.cln.kind} by CLN, ${a.ours.kind} by ours`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
      if (a.cln.kind === 'fatal' || a.ours.kind === 'fatal') {
        pair.cleanup();
        pair = undefined;
      }
    }
  } finally {
    pair?.cleanup();
  }
  t.diagnostic(`${requests.length} requests: ${JSON.stringify(outcomes)}`);
  assert.deepEqual(unexplained, [], 'requests CLN and our hsmd answer differently');
  await t.test('known differences still to remove', { todo: todoLabel }, () => assert.deepEqual(todo, []));
}

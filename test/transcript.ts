/**
 * Recorded CLN hsmd sessions (test/fixtures/transcripts/README.md) and their replay,
 * with the rules of the team's replay tool (outside this repository): exchanges in seq
 * order on their recorded connections; "creates" names the client whose fd arrives after
 * that hsmd_client_hsmfd reply; no reply for hsmd_dev_preinit; rep null + error means
 * hsmd closed that connection.
 */
import { readFileSync } from 'node:fs';
import { fromHex } from '../signer/bytes.js';
import type { ClientContext } from '../signer/envelope.js';
import { MASTER_PERMISSIONS } from '../signer/permissions.js';
import { Closed, type SyncConnection, Timeout } from './sync-wire.js';

export interface TranscriptHeader {
  hsm_secret: string;
  cln_version: string;
  hsmd_args: string[];
  [key: string]: unknown;
}

export interface Exchange {
  seq: number;
  conn: string;
  peer: string | null;
  dbid: number;
  perms: number;
  req: string;
  rep: string | null;
  creates?: string;
  error?: string;
}

export interface Transcript {
  header: TranscriptHeader;
  exchanges: Exchange[];
}

export interface Mismatch {
  seq: number;
  conn: string;
  type: number;
  expected: string | null;
  got: string;
}

export interface ReplayResult {
  passed: number;
  failed: number;
  mismatches: Mismatch[];
}

export function loadTranscript(path: string): Transcript {
  let header: TranscriptHeader | null = null;
  const exchanges: Exchange[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const record = JSON.parse(line) as { header?: TranscriptHeader } & Exchange;
    if (record.header) header = record.header;
    else exchanges.push(record);
  }
  if (!header) throw new Error(`${path}: no {"header": ...} line`);
  exchanges.sort((a, b) => a.seq - b.seq);
  return { header, exchanges };
}

/**
 * The connection a recorded exchange came in on, as the broker stamps it on the envelope:
 * the master is lightningd (33 zero bytes, dbid 0, hsmd.c's master capabilities).
 */
export function clientOf(ex: Exchange): ClientContext {
  return ex.conn === 'master'
    ? { peer: new Uint8Array(33), dbid: 0n, permissions: MASTER_PERMISSIONS }
    : { peer: fromHex(ex.peer!), dbid: BigInt(ex.dbid), permissions: BigInt(ex.perms) };
}

/** The hsmd side as the replay sees it: the master, and new clients by fd. */
export interface ReplayTarget {
  readonly master: SyncConnection;
  adoptClientFd(fd: number): SyncConnection;
}

const typeOf = (hex: string): number => parseInt(hex.slice(0, 4), 16);

/** Told after each exchange: whether it matched and how long the round trip took. */
export type ExchangeObserver = (ex: Exchange, matched: boolean, microseconds: number) => void;

/**
 * Replays every exchange; a broken connection fails the exchanges that follow on it.
 * `conns` holds the recorded connections by name: pass the same map again to replay a
 * session in parts (the clients an earlier part created are in it).
 */
export function replayExchanges(
  target: ReplayTarget,
  exchanges: readonly Exchange[],
  observe?: ExchangeObserver,
  conns = new Map<string, SyncConnection>(),
): ReplayResult {
  conns.set('master', target.master);
  const broken = new Map<string, string>();
  const result: ReplayResult = { passed: 0, failed: 0, mismatches: [] };
  const fail = (ex: Exchange, got: string): void => {
    result.failed++;
    result.mismatches.push({ seq: ex.seq, conn: ex.conn, type: typeOf(ex.req), expected: ex.rep, got });
  };

  for (const ex of exchanges) {
    const started = process.hrtime.bigint();
    const before = result.passed;
    replayOne(ex);
    observe?.(ex, result.passed > before, Number(process.hrtime.bigint() - started) / 1000);
  }
  return result;

  function replayOne(ex: Exchange): void {
    const conn = conns.get(ex.conn);
    if (!conn || broken.has(ex.conn)) {
      fail(ex, `(${broken.get(ex.conn) ?? `connection ${ex.conn} was never created`})`);
      return;
    }
    try {
      conn.send(ex.req);
    } catch (err) {
      broken.set(ex.conn, `send failed: ${(err as Error).message}`);
      fail(ex, `(${broken.get(ex.conn)})`);
      return;
    }
    if (ex.rep === null) {
      if (typeOf(ex.req) === 99 || !ex.error) {
        result.passed++; // no reply by design (hsmd_dev_preinit)
      } else if (conn.waitClosed()) {
        result.passed++; // recorded: the real hsmd closed this connection
        broken.set(ex.conn, 'closed by hsmd (as recorded)');
      } else {
        fail(ex, '(connection not closed)');
        broken.set(ex.conn, 'not closed as recorded');
      }
      return;
    }
    let got: Uint8Array;
    try {
      got = conn.receive();
    } catch (err) {
      if (!(err instanceof Timeout || err instanceof Closed)) throw err;
      broken.set(ex.conn, `${err.name} at seq ${ex.seq}`);
      fail(ex, `(${err.message})`);
      return;
    }
    const gotHex = Buffer.from(got).toString('hex');
    if (gotHex === ex.rep) result.passed++;
    else fail(ex, gotHex);
    if (ex.creates) {
      if (typeOf(gotHex) !== 109) {
        broken.set(ex.creates, `not created: reply to seq ${ex.seq} was type ${typeOf(gotHex)}`);
        return;
      }
      try {
        conns.set(ex.creates, target.adoptClientFd(conn.receiveFd()));
      } catch (err) {
        broken.set(ex.creates, `fd not received after seq ${ex.seq}: ${(err as Error).message}`);
      }
    }
  }
}

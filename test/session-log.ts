/**
 * A recorded session (test/fixtures/transcripts) as the broker log would hold it: one
 * request-received and one reply-received record per exchange, ids = the recording's seq,
 * peers/dbids/permissions and replies as recorded. The recording has no times or latencies:
 * `at` and `latencyMicros` are SYNTHETIC (monotone, derived from seq), for views and reports.
 */
import { fromHex } from '../signer/bytes.js';
import type { Reply } from '../signer/decision.js';
import type { LogRecord } from '../log/broker-log/record.js';
import { fixturePath } from './fixtures.js';
import { clientOf, loadTranscript, type Exchange } from './transcript.js';

export interface SessionLog {
  readonly exchanges: Exchange[];
  readonly records: LogRecord[];
  /** SYNTHETIC: unix ms of exchange `seq`'s request (250 ms apart from the recording's recorded_at). */
  readonly atOf: (seq: number) => number;
  /** SYNTHETIC: latency in µs of exchange `seq`'s reply, varied so a histogram has spread. */
  readonly latencyOf: (seq: number) => number;
}

export const replyOf = (ex: Exchange): Reply =>
  ex.rep !== null ? { kind: 'frame', frame: fromHex(ex.rep) } : ex.error ? { kind: 'bad-request', description: ex.error } : { kind: 'none' };

export function sessionLog(name: string): SessionLog {
  const { header, exchanges } = loadTranscript(fixturePath(`transcripts/${name}`));
  const t0 = Date.parse(header['recorded_at'] as string);
  const atOf = (seq: number): number => t0 + seq * 250;
  const latencyOf = (seq: number): number => 200 + ((seq * 7919) % 20_000);
  const records = exchanges.flatMap((ex): LogRecord[] => [
    { kind: 'request-received', id: BigInt(ex.seq), client: clientOf(ex), type: parseInt(ex.req.slice(0, 4), 16), message: fromHex(ex.req), at: atOf(ex.seq) },
    { kind: 'reply-received', id: BigInt(ex.seq), reply: replyOf(ex), latencyMicros: latencyOf(ex.seq) },
  ]);
  return { exchanges, records, atOf, latencyOf };
}

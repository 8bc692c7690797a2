/**
 * The record codec: the documented byte layout (record.ts), round trips of every kind with
 * requests and replies from a recorded CLN session, and refusal of anything else by name.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { fromHex, toHex } from '../../signer/bytes.js';
import { fixturePath } from '../../test/fixtures.js';
import { clientOf, loadTranscript } from '../../test/transcript.js';
import type { Reply } from '../../signer/decision.js';
import { encodeReply } from '../../signer/event-codec.js';
import { crc32c } from '../journal/crc32c.js';
import { decodeRecord, encodeRecord, type LogRecord, RecordError, seqKey } from './record.js';

/** Round trips at one key; the checksum tests vary it. */
const SEQ = 41n;
const encode = (record: LogRecord): Uint8Array => encodeRecord(record, SEQ);
const decode = (value: Uint8Array): LogRecord => decodeRecord(value, SEQ);
/** The value's hex with its checksum: CRC-32C (checked against its RFC 3720 check value in log/journal) over key ‖ bytes. */
const sealed = (hex: string, seq = SEQ): string => hex + crc32c(Uint8Array.of(...seqKey(seq), ...fromHex(hex))).toString(16).padStart(8, '0');
/** A version 2 value (no checksum) of the same record, as an older build wrote it. */
const asV2 = (value: Uint8Array): Uint8Array => Uint8Array.of(2, ...value.subarray(1, value.length - 4));

/** Every recorded exchange as the broker would log it: request, then reply (or none). */
function recordedSession(): LogRecord[] {
  const { exchanges } = loadTranscript(fixturePath('transcripts/session-basic-l1.jsonl'));
  const at = Date.parse('2026-11-22T21:16:03Z');
  return exchanges.flatMap((ex, i): LogRecord[] => {
    const message = fromHex(ex.req);
    const id = BigInt(ex.seq);
    return [
      {
        kind: 'request-received',
        id,
        client: clientOf(ex),
        type: (message[0]! << 8) | message[1]!,
        message,
        at: at + i,
      },
      {
        kind: 'reply-received',
        id,
        reply: ex.rep === null ? { kind: 'none' } : { kind: 'frame', frame: fromHex(ex.rep) },
        latencyMicros: 250 + i,
      },
    ];
  });
}

/** One record of each kind and reply form not in the recording. */
const OTHER_KINDS: LogRecord[] = [
  { kind: 'reply-received', id: 7n, reply: { kind: 'bad-request', description: 'hsmd_sign_message: field msg needs 120 bytes' }, latencyMicros: 0 },
  { kind: 'reply-received', id: 8n, reply: { kind: 'fatal', failure: 'internal', description: 'wallet key differs' }, latencyMicros: 12 },
  { kind: 'reply-received', id: 9n, reply: { kind: 'fatal', failure: null, description: 'wrong passphrase' }, latencyMicros: 1 },
  { kind: 'reply-received', id: 10n, reply: { kind: 'fatal', failure: 'master-io', description: 'init failed', frame: Uint8Array.of(0, 115, 0, 0) }, latencyMicros: 5 },
  { kind: 'signer-connected', deviceId: '02' + 'ab'.repeat(32), at: 1_700_000_000_000 },
  { kind: 'signer-disconnected', deviceId: 'ünïcode-device', at: 1_700_000_000_001 },
  { kind: 'error', id: 0xffffffffffffffffn, text: 'signer timed out; resending', at: 1_700_000_000_002 },
  { kind: 'error', text: 'mqtt: connection refused', at: 0 },
  { kind: 'unlogged-requests', deviceId: '03' + 'cd'.repeat(32), afterId: 41n, throughId: 0xffffffffffffffffn, at: 1_700_000_000_003 },
];

const allRecords = (): LogRecord[] => [...recordedSession(), ...OTHER_KINDS];

test('byte layout: signer-connected is version, kind 3, text16 device id, u64 at, checksum', () => {
  const bytes = encode({ kind: 'signer-connected', deviceId: 'ab', at: 0x0102 });
  assert.equal(toHex(bytes), sealed('03' + '03' + '0002' + '6162' + '0000000000000102'));
});

test('byte layout: request-received, error and unlogged-requests follow record.ts field by field', () => {
  const peer = new Uint8Array(33).fill(0x02);
  const req: LogRecord = {
    kind: 'request-received', id: 5n, client: { peer, dbid: 3n, permissions: 0x403n }, type: 0x0017,
    message: Uint8Array.of(0x00, 0x17, 0xaa), at: 1,
  };
  assert.equal(toHex(encode(req)),
    sealed('0301' + '0000000000000005' + '02'.repeat(33) + '0000000000000003' + '0000000000000403' + '0017' +
    '00000003' + '0017aa' + '0000000000000001'));
  assert.equal(toHex(encode({ kind: 'error', id: 2n, text: 'x', at: 4 })),
    sealed('0305' + '01' + '0000000000000002' + '00000001' + '78' + '0000000000000004'));
  assert.equal(toHex(encode({ kind: 'unlogged-requests', deviceId: 'ab', afterId: 7n, throughId: 9n, at: 4 })),
    sealed('0306' + '0002' + '6162' + '0000000000000007' + '0000000000000009' + '0000000000000004'));
});

test('byte layout: reply-received carries the reply in the one Reply encoding (event-codec.ts)', () => {
  for (const record of allRecords().filter((r): r is Extract<LogRecord, { kind: 'reply-received' }> => r.kind === 'reply-received').slice(-8)) {
    const id = record.id.toString(16).padStart(16, '0');
    const latency = record.latencyMicros.toString(16).padStart(16, '0');
    assert.equal(toHex(encode(record)), sealed('0302' + id + latency + toHex(encodeReply(record.reply))));
  }
});

test('version 1 records, written before the reply encoding was shared, still read', () => {
  const head = '0102' + '0000000000000007' + '0000000000000009';
  const cases: [string, Reply][] = [
    ['00' + '00000002' + 'abcd', { kind: 'frame', frame: Uint8Array.of(0xab, 0xcd) }],
    ['01', { kind: 'none' }],
    ['02' + '00000001' + '78', { kind: 'bad-request', description: 'x' }],
    ['03' + '03' + '00000001' + '78' + '00', { kind: 'fatal', failure: 'internal', description: 'x' }],
    ['03' + 'ff' + '00000000' + '00', { kind: 'fatal', failure: null, description: '' }],
    ['03' + '00' + '00000000' + '01' + '00000001' + '73', { kind: 'fatal', failure: 'master-io', description: '', frame: Uint8Array.of(0x73) }],
  ];
  for (const [reply, expected] of cases)
    assert.deepEqual(decode(fromHex(head + reply)), { kind: 'reply-received', id: 7n, latencyMicros: 9, reply: expected }, reply);
  // The other kinds are the same in both versions.
  const v2 = asV2(encode(OTHER_KINDS[4]!));
  assert.deepEqual(decode(Uint8Array.of(1, ...v2.subarray(1))), OTHER_KINDS[4]);
});

test('version 2 records (no checksum) still read, at any key', () => {
  for (const record of allRecords()) assert.deepEqual(decodeRecord(asV2(encode(record)), 7n), record);
});

test('a version 3 record is refused as changed when any bit of it flips, or when it is read under another key', () => {
  for (const record of [...recordedSession().slice(0, 6), ...OTHER_KINDS]) {
    const value = encode(record);
    for (let bit = 0; bit < value.length * 8; bit++) {
      const flipped = value.slice();
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      // A flip of the version byte away from 3 leaves the 4 checksum bytes as trailing bytes (or an unknown version).
      assert.throws(() => decode(flipped), (e: unknown) => e instanceof RecordError &&
        (bit < 8 ? /checksum mismatch|trailing bytes|unknown broker-log record version|needs \d+ bytes|unknown/.test(e.message) : /^checksum mismatch \(stored [0-9a-f]{8}, computed [0-9a-f]{8} over key 41 and \d+ bytes\)/.test(e.message)),
      `${record.kind}, bit ${bit}`);
    }
    assert.throws(() => decodeRecord(value, SEQ + 1n), /checksum mismatch .* over key 42 .*stored under another key/);
  }
});

test('every kind round-trips, with every request and reply of a recorded CLN session', () => {
  const records = allRecords();
  const kinds = new Set(records.map((r) => r.kind));
  assert.deepEqual([...kinds].sort(), ['error', 'reply-received', 'request-received', 'signer-connected', 'signer-disconnected', 'unlogged-requests']);
  for (const record of records) assert.deepEqual(decode(encode(record)), record);
});

test('decoded bytes are copies, not views of the stored value', () => {
  const value = encode(recordedSession()[0]!);
  const decoded = decode(value) as Extract<LogRecord, { kind: 'request-received' }>;
  const before = toHex(decoded.message);
  value.fill(0);
  assert.equal(toHex(decoded.message), before);
});

test('an unknown version is refused by number, never guessed', () => {
  const value = asV2(encode(OTHER_KINDS[4]!));
  for (const version of [0, 4, 255]) {
    value[0] = version;
    assert.throws(() => decode(value), (e: unknown) =>
      e instanceof RecordError && e.message === `unknown broker-log record version ${version} (this build reads versions 1, 2, 3)`);
  }
});

test('an unknown kind is refused by number', () => {
  for (const kind of [0, 7, 200]) {
    const value = fromHex(sealed(toHex(Uint8Array.of(3, kind, ...asV2(encode(OTHER_KINDS[4]!)).subarray(2)))));
    assert.throws(() => decode(value), (e: unknown) =>
      e instanceof RecordError && e.message === `unknown broker-log record kind ${kind} (version 3)`);
  }
});

test('every truncation of every kind is refused, naming the field', () => {
  for (const record of [...recordedSession().slice(0, 4), ...OTHER_KINDS]) {
    const value = asV2(encode(record));
    for (let n = 0; n < value.length; n++) {
      assert.throws(() => decode(value.subarray(0, n)), (e: unknown) =>
        e instanceof RecordError && /needs \d+ bytes at offset \d+, only \d+ left/.test(e.message) &&
        (n < 2 || e.message.includes(`broker-log record ${record.kind}: field `)),
      `${record.kind} cut to ${n} of ${value.length} bytes`);
    }
  }
});

test('trailing bytes, bad reply kinds, bad failure codes, bad bools and bad UTF-8 are refused', () => {
  const reply = asV2(encode(OTHER_KINDS[0]!));
  const cases: [Uint8Array, RegExp][] = [
    [Uint8Array.of(...asV2(encode(OTHER_KINDS[4]!)), 0), /1 trailing bytes after the record/],
    [Uint8Array.of(...reply.subarray(0, 19), 9, ...reply.subarray(20)), /field reply: reply: unknown reply tag 9 at offset 19/],
    [Uint8Array.of(...reply.subarray(0, 18), 7, ...reply.subarray(19)), /field reply: reply: unknown version 7/],
    [fromHex('0202' + '00'.repeat(16) + '01' + '04' + '07' + '00000000' + '00'), /field reply: reply: unknown status failure code 7/],
    [fromHex('0202' + '00'.repeat(16) + '01' + '03' + '00000001' + 'ff'), /field reply: invalid UTF-8 at offset 20/],
    [fromHex('0102' + '00'.repeat(16) + '09'), /field reply: unknown reply kind 9 at offset 18/],
    [fromHex('0102' + '00'.repeat(16) + '03' + '07' + '00000000' + '00'), /unknown status_failreason 7/],
    [fromHex('0105' + '02' + '00000000' + '0000000000000000'), /field id: bool must be 0 or 1, got 2/],
    [fromHex('0103' + '0001' + 'ff' + '0000000000000000'), /field deviceId: invalid UTF-8 at offset 4/],
    [fromHex('0103' + '0000' + 'ffffffffffffffff'), /field at: 18446744073709551615 exceeds Number.MAX_SAFE_INTEGER/],
  ];
  for (const [value, message] of cases) assert.throws(() => decode(value), (e: unknown) => e instanceof RecordError && message.test(e.message), message.source);
});

test('values that do not fit the layout are refused when encoding', () => {
  const [req] = recordedSession() as [Extract<LogRecord, { kind: 'request-received' }>];
  assert.throws(() => encode({ ...req, client: { ...req.client, peer: new Uint8Array(32) } }), /peer must be 33 bytes, got 32/);
  assert.throws(() => encode({ ...req, type: 0x10000 }), /request-received: u16 out of range: 65536/);
  assert.throws(() => encode({ ...req, at: 1.5 }), /at must be a non-negative safe integer, got 1.5/);
  assert.throws(() => encode({ kind: 'signer-connected', deviceId: 'x'.repeat(0x10000), at: 0 }), /u16 out of range/);
  assert.throws(() => encode({ kind: 'nonsense' } as unknown as LogRecord), /unknown broker-log record kind "nonsense"/);
});

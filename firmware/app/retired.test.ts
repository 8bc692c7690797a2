/**
 * The retired marker's format (retired.ts, docs/journal.md "Retiring a device"): it round-trips
 * as one JSON line, and anything else is an error naming what is wrong, never a throw; --restore
 * and --spare go no further on storage that holds it.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { MemoryDir } from '../../log/memory-file.js';
import { nobleCurve } from '../../signer/crypto/noble.js';
import type { Store, Transport } from './ports.js';
import { restoreFromMirror } from './restore.js';
import { decodeRetiredMarker, DeviceRetiredError, encodeRetiredMarker, RETIRED_FILE, type RetiredMarker, writeRetiredMarker } from './retired.js';
import { standBy } from './spare.js';

const DEVICE = `02${'ab'.repeat(32)}`;
const MARKER: RetiredMarker = { deviceId: DEVICE, lastId: 96n, answeredUpTo: 131n, at: 1_796_000_000_123 };
const utf8 = (s: string) => new TextEncoder().encode(s);
const line = (fields: Record<string, unknown>) => utf8(JSON.stringify({ v: 1, device: DEVICE, lastId: '96', answeredUpTo: '131', at: 1, ...fields }));

test('a marker round-trips as one JSON line, ids as decimal strings up to 2^64-1, the time in milliseconds', () => {
  assert.equal(new TextDecoder().decode(encodeRetiredMarker(MARKER)), `{"v":1,"device":"${DEVICE}","lastId":"96","answeredUpTo":"131","at":1796000000123}\n`);
  assert.deepEqual(decodeRetiredMarker(encodeRetiredMarker(MARKER)), MARKER);
  const edge: RetiredMarker = { deviceId: `03${'00'.repeat(32)}`, lastId: 0n, answeredUpTo: 2n ** 64n - 1n, at: 0 };
  assert.deepEqual(decodeRetiredMarker(encodeRetiredMarker(edge)), edge);
});

test('bytes that are not a marker are an error naming what is wrong', () => {
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(0), /not JSON/],
    [encodeRetiredMarker(MARKER).subarray(0, 40), /not JSON/],
    [utf8('[1]'), /not a JSON object/],
    [line({ v: 2 }), /version 2; expected 1/],
    [line({ reason: 'rollback' }), /fields answeredUpTo, at, device, lastId, reason, v; expected answeredUpTo, at, device, lastId, v/],
    [line({ device: DEVICE.toUpperCase() }), /is not a node id/],
    [line({ device: `04${'ab'.repeat(32)}` }), /is not a node id/],
    [line({ device: DEVICE.slice(0, 64) }), /is not a node id/],
    [line({ at: -1 }), /at -1 is not a time in milliseconds/],
    [line({ at: 1.5 }), /at 1.5 is not a time/],
    [line({ at: '1' }), /at "1" is not a time/],
    [line({ lastId: '096' }), /lastId "096" is not a decimal string/],
    [line({ answeredUpTo: 131 }), /answeredUpTo 131 is not a decimal string/],
    [line({ answeredUpTo: '18446744073709551616' }), /above 2\^64-1/],
    [line({ lastId: '131' }), /lastId 131 is not below answeredUpTo 131/],
  ];
  for (const [bytes, why] of cases) {
    const decoded = decodeRetiredMarker(bytes);
    assert.ok(decoded instanceof Error, new TextDecoder().decode(bytes));
    assert.match(decoded.message, why);
  }
});

test('--restore and --spare on storage holding the marker refuse (DeviceRetiredError) before the seed, the lock or a connection', async () => {
  const dir = new MemoryDir();
  writeRetiredMarker(dir, MARKER);
  const touched: string[] = [];
  const touch = (what: string) => (): never => {
    touched.push(what);
    throw new Error(`${what} touched`);
  };
  const store: Store = {
    lock: touch('lock'), hsmSecret: touch('hsm_secret'), passphrase: touch('passphrase'), config: touch('config'), journalDir: touch('journal'),
    highWaterMark: touch('high-water'), ownerKey: touch('owner.pub'), policyFile: touch('policy.json'), retiredMarker: () => dir.files.get(RETIRED_FILE),
  };
  const transport: Transport = { connect: touch('connect'), subscribe: touch('subscribe'), publish: touch('publish'), end: touch('end') };
  const lines: string[] = [];
  const options = { transport, store, clock: { now: () => 0, after: touch('timer'), cancel: () => {} }, curve: nobleCurve, log: (level: string, line: string) => void lines.push(`${level}: ${line}`) };
  await assert.rejects(restoreFromMirror(options), DeviceRetiredError);
  await assert.rejects(standBy(options), DeviceRetiredError);
  assert.deepEqual(touched, []);
  assert.equal(lines.length, 2);
  for (const line of lines) assert.match(line, new RegExp(`^broken: retired, not connecting: retired records that at 2026-\\d\\d-\\d\\dT[\\d:.]+Z the broker refused device ${DEVICE}: its journal ends at id 96 but the broker log shows id 131 answered`));
});

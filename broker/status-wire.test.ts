/**
 * Status messages as CLN's common/status_wire.csv and hsmd_wire.csv lay them out, and as
 * lightningd parses them (fromwire_wirestring refuses bytes below 0x20).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  fromwireStatus,
  towireClientBadRequest,
  towireStatusFail,
  towireStatusLog,
  towireStatusVersion,
  statusText,
} from './status-wire.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const NODE_ID = Buffer.from('026f61d7ee82f937f9697f4f3e44bfaaa25849cc4f526b3a57326130eba6346002', 'hex');

test('status_version 0xFFF6 {wirestring}: UTF-8 then NUL (towire_wirestring)', () => {
  assert.equal(hex(towireStatusVersion('v25.12.1')), 'fff6' + hex(Buffer.from('v25.12.1')) + '00');
});

test('status_log 0xFFF0 {level u8, ?node_id, wirestring}', () => {
  assert.equal(hex(towireStatusLog('debug', null, 'hi')), 'fff0' + '03' + '00' + '686900');
  assert.equal(hex(towireStatusLog('broken', NODE_ID, 'x')), 'fff0' + '06' + '01' + hex(NODE_ID) + '7800');
});

test('status_fail 0xFFF2 {failreason u8, wirestring}: MASTER_IO 0, INTERNAL_ERROR 3', () => {
  assert.equal(hex(towireStatusFail('master-io', 'a')), 'fff2006100');
  assert.equal(hex(towireStatusFail('internal', 'a')), 'fff2036100');
});

test('hsmstatus_client_bad_request 1000 {node_id, wirestring, u16 len, msg}', () => {
  const msg = Buffer.from('0017000161', 'hex');
  assert.equal(
    hex(towireClientBadRequest(NODE_ID, 'no', msg)),
    '03e8' + hex(NODE_ID) + '6e6f00' + '0005' + '0017000161',
  );
});

test('control bytes never reach lightningd: they would make it drop hsmd (and die)', () => {
  assert.equal(statusText('a\nb\0c\t'), 'a b c ');
  assert.equal(hex(towireStatusVersion('a\nb\0c\t')), 'fff6' + '6120622063' + '2000');
  // A lone surrogate: the bytes UTF-8 encoding gives it (U+FFFD), no exception.
  assert.equal(hex(towireStatusVersion('x\ud800y')), 'fff6' + '78efbfbd79' + '00');
  const decoded = fromwireStatus(towireStatusLog('info', null, 'line one\nline two'));
  assert.deepEqual(decoded, { kind: 'log', level: 4, peer: null, entry: 'line one line two' });
});

test('decoders read back what the encoders write', () => {
  assert.deepEqual(fromwireStatus(towireStatusVersion('v25.12.1')), { kind: 'version', version: 'v25.12.1' });
  assert.deepEqual(fromwireStatus(towireStatusFail('master-io', 'gone')), { kind: 'fail', reason: 0, desc: 'gone' });
  const bad = fromwireStatus(towireClientBadRequest(NODE_ID, 'why', Uint8Array.of(0, 1)));
  assert.equal(bad.kind, 'badRequest');
  if (bad.kind === 'badRequest') {
    assert.equal(hex(bad.id), hex(NODE_ID));
    assert.equal(bad.description, 'why');
    assert.equal(hex(bad.msg), '0001');
  }
});

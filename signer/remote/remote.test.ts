/**
 * The broker–device protocol pieces: topics and the ACL test, envelope codecs, tokens.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { fromHex, toHex } from '../bytes.js';
import { nobleCurve } from '../crypto/noble.js';
import { CodecError } from '../event-codec.js';
import { checkCredentials, makeCredentials, TOKEN_MAX_AGE_MS } from './auth-token.js';
import { decodeReplyEnvelope, decodeRequest, encodeReplyEnvelope, encodeRequest } from './envelope-codec.js';
import { parseTopic, topic, withinDevice } from './topics.js';

const PRIV = new Uint8Array(32).fill(1);
const NOW = 1_790_000_000_000;

test('topics: build, parse, and the per-device ACL rule', () => {
  const id = toHex(nobleCurve.publicKey(PRIV));
  assert.equal(topic(id, 'req'), `sphinx/v1/${id}/req`);
  assert.deepEqual(parseTopic(`sphinx/v1/${id}/res`), { deviceId: id, suffix: 'res' });
  assert.equal(parseTopic(`sphinx/v1/${id}/other`), undefined);
  assert.ok(withinDevice(id, `sphinx/v1/${id}/req`));
  assert.ok(withinDevice(id, `sphinx/v1/${id}/#`));
  assert.ok(!withinDevice(id, 'sphinx/v1/#'));
  assert.ok(!withinDevice(id, `sphinx/v1/+/req`));
  assert.ok(!withinDevice(id, `sphinx/v1/${id.replace(/.$/, '0')}/req`));
});

test('request and reply envelopes round-trip; bad versions and truncation are clear errors', () => {
  const env = {
    id: 2n ** 63n + 5n,
    client: { peer: nobleCurve.publicKey(PRIV), dbid: 7n, permissions: 0x1bfn },
    at: 1_790_000_000,
    message: fromHex('0012000000000000002a'),
  };
  const bytes = encodeRequest(env);
  assert.deepEqual(decodeRequest(bytes), env);
  assert.throws(() => decodeRequest(Uint8Array.of(9, ...bytes.subarray(1))), (e: Error) => e instanceof CodecError && /unknown version 9/.test(e.message));
  assert.throws(() => decodeRequest(bytes.subarray(0, 20)), CodecError);
  assert.throws(() => decodeRequest(Uint8Array.of(...bytes, 0)), /trailing/);

  for (const reply of [
    { kind: 'frame', frame: fromHex('007f' + '11'.repeat(32)) },
    { kind: 'none' },
    { kind: 'bad-request', description: 'policy-htlc-count: 2000 HTLCs > 1000' },
    { kind: 'fatal', failure: 'internal', description: 'x', frame: fromHex('0073') },
  ] as const) {
    assert.deepEqual(decodeReplyEnvelope(encodeReplyEnvelope({ id: 3n, reply })), { id: 3n, reply });
  }
});

test('tokens: a fresh token verifies; expired, future, forged, other-broker and malformed ones do not', () => {
  const c = makeCredentials(nobleCurve, PRIV, 'broker-a', NOW);
  assert.equal(c.username, toHex(nobleCurve.publicKey(PRIV)));
  const ok = checkCredentials(nobleCurve, c.username, c.password, 'broker-a', NOW + 1000);
  assert.ok(ok.ok);

  const reason = (r: ReturnType<typeof checkCredentials>) => (r.ok ? 'ok' : r.reason);
  assert.match(reason(checkCredentials(nobleCurve, c.username, c.password, 'broker-a', NOW + TOKEN_MAX_AGE_MS + 1)), /expired/);
  assert.match(reason(checkCredentials(nobleCurve, c.username, c.password, 'broker-a', NOW - 60_000)), /future/);
  assert.match(reason(checkCredentials(nobleCurve, c.username, c.password, 'broker-b', NOW)), /bad signature/);
  const other = toHex(nobleCurve.publicKey(new Uint8Array(32).fill(2)));
  assert.match(reason(checkCredentials(nobleCurve, other, c.password, 'broker-a', NOW)), /bad signature/);
  const flipped = c.password.slice(0, -2) + (c.password.endsWith('00') ? '01' : '00');
  assert.match(reason(checkCredentials(nobleCurve, c.username, flipped, 'broker-a', NOW)), /bad signature/);
  assert.match(reason(checkCredentials(nobleCurve, 'alice', c.password, 'broker-a', NOW)), /username/);
  assert.match(reason(checkCredentials(nobleCurve, c.username, 'secret', 'broker-a', NOW)), /password/);
});

/**
 * The broker–device protocol pieces: topics and the ACL test, envelope codecs, tokens.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import test from 'node:test';
import fc from 'fast-check';
import { fromHex, toHex } from '../bytes.js';
import { nobleCurve } from '../crypto/noble.js';
import { CodecError } from '../record-fields.js';
import { checkCredentials, claimedLastId, makeCredentials, TOKEN_MAX_AGE_MS } from './auth-token.js';
import {
  BATCH_VERSION,
  ORDERED_BATCH_VERSION,
  decodeReplyBatch,
  decodeReplyEnvelope,
  decodeReplyPayload,
  decodeRequest,
  decodeRequestBatch,
  decodeRequestPayload,
  encodeReplyBatch,
  encodeReplyEnvelope,
  encodeRequest,
  encodeRequestBatch,
  MAX_BATCH_REQUESTS,
} from './envelope-codec.js';
import { parseTopic, topic, TOPIC_ROOT, TOPIC_SUFFIXES, withinDevice } from './topics.js';

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

test('property: parseTopic reads a topic as docs/remote-protocol.md writes it: root, one device id, one known suffix', () => {
  // The definition, spelled the plain way: four '/'-separated levels, the first two the root.
  const byDefinition = (name: string) => {
    const levels = name.split('/');
    if (levels.length !== 4 || `${levels[0]}/${levels[1]}` !== TOPIC_ROOT) return undefined;
    return (Object.values(TOPIC_SUFFIXES) as string[]).includes(levels[3]!) ? { deviceId: levels[2]!, suffix: levels[3] } : undefined;
  };
  const piece = fc.oneof(fc.constantFrom('sphinx', 'v1', 'sphinx/v1', '/', '', '02ab', '#', '+', ...Object.values(TOPIC_SUFFIXES)), fc.string({ maxLength: 4 }));
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 7 }), (pieces) => {
      const name = pieces.join('/');
      assert.deepEqual(parseTopic(name), byDefinition(name));
    }),
    { numRuns: 3000 },
  );
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

test('batch envelopes (versions 2 and 3) round-trip in order; empty, oversized, duplicate ids, bad versions, truncation and trailing bytes are clear errors', () => {
  const env = (id: bigint, hex: string) => ({
    id,
    client: { peer: nobleCurve.publicKey(PRIV), dbid: id, permissions: 0x1bfn },
    at: 1_790_000_000,
    message: fromHex(hex),
  });
  const envs = [env(9n, '0012000000000000002a'), env(7n, '0001'), env(2n ** 64n - 1n, '000b' + 'ab'.repeat(300))];
  const bytes = encodeRequestBatch(envs);
  assert.equal(bytes[0], BATCH_VERSION);
  assert.deepEqual(decodeRequestBatch(bytes), envs);
  assert.deepEqual(decodeRequestPayload(bytes), { batch: true, after: 0n, envelopes: envs });
  assert.deepEqual(decodeRequestPayload(encodeRequest(envs[0]!)), { batch: false, after: 0n, envelopes: [envs[0]] });
  // Version 3 names the id the device must have journaled first; 0 (no condition) is sent as version 2.
  const ordered = encodeRequestBatch(envs, 8n);
  assert.equal(ordered[0], ORDERED_BATCH_VERSION);
  assert.deepEqual([...ordered.subarray(1, 9)], [0, 0, 0, 0, 0, 0, 0, 8]);
  assert.deepEqual(decodeRequestPayload(ordered), { batch: true, after: 8n, envelopes: envs });
  assert.deepEqual(decodeRequestBatch(ordered), envs);
  assert.throws(() => decodeRequestBatch(ordered.subarray(0, 10)), CodecError);
  assert.deepEqual(decodeRequestBatch(encodeRequestBatch([envs[1]!])), [envs[1]]);
  const many = Array.from({ length: MAX_BATCH_REQUESTS }, (_, i) => env(BigInt(i + 1), '0001'));
  assert.equal(decodeRequestBatch(encodeRequestBatch(many)).length, MAX_BATCH_REQUESTS);

  const codecError = (re: RegExp) => (e: Error) => e instanceof CodecError && re.test(e.message);
  assert.throws(() => encodeRequestBatch([]), codecError(/0 entries/));
  assert.throws(() => encodeRequestBatch([...many, env(1000n, '0001')]), codecError(/65 entries/));
  assert.throws(() => encodeRequestBatch([envs[0]!, envs[0]!]), codecError(/id 9 appears twice/));
  assert.throws(() => decodeRequestBatch(Uint8Array.of(BATCH_VERSION, 0, 0)), codecError(/0 entries/));
  assert.throws(() => decodeRequestBatch(Uint8Array.of(BATCH_VERSION, 0, 65)), codecError(/65 entries/));
  const twice = encodeRequestBatch([envs[0]!, env(10n, '0012000000000000002a')]);
  twice.set(twice.subarray(3, 11), 3 + (twice.length - 3) / 2); // the second entry's id := the first's
  assert.throws(() => decodeRequestBatch(twice), codecError(/id 9 appears twice/));
  assert.throws(() => decodeRequestBatch(Uint8Array.of(1, ...bytes.subarray(1))), codecError(/unknown version 1/));
  assert.throws(() => decodeRequestBatch(Uint8Array.of(4, ...bytes.subarray(1))), codecError(/unknown version 4/));
  assert.throws(() => decodeRequestPayload(Uint8Array.of(9, ...bytes.subarray(1))), codecError(/unknown version 9/));
  assert.throws(() => decodeRequestPayload(new Uint8Array(0)), CodecError);
  assert.throws(() => decodeRequestBatch(bytes.subarray(0, bytes.length - 1)), CodecError);
  assert.throws(() => decodeRequestBatch(Uint8Array.of(...bytes, 0)), codecError(/trailing/));
  // A count that promises more entries than there are is truncation, not a shorter batch.
  assert.throws(() => decodeRequestBatch(Uint8Array.of(BATCH_VERSION, 0, 4, ...bytes.subarray(3))), CodecError);

  const replies = [
    { id: 9n, reply: { kind: 'frame', frame: fromHex('007f' + '11'.repeat(32)) } },
    { id: 7n, reply: { kind: 'none' } },
    { id: 3n, reply: { kind: 'bad-request', description: 'policy-htlc-count: 2000 HTLCs > 1000' } },
    { id: 4n, reply: { kind: 'fatal', failure: 'internal', description: 'x', frame: fromHex('0073') } },
  ] as const;
  const rb = encodeReplyBatch(replies);
  assert.equal(rb[0], BATCH_VERSION);
  assert.deepEqual(decodeReplyBatch(rb), replies);
  assert.deepEqual(decodeReplyPayload(rb), replies);
  assert.deepEqual(decodeReplyPayload(encodeReplyEnvelope(replies[0])), [replies[0]]);
  assert.throws(() => encodeReplyBatch([]), codecError(/0 entries/));
  assert.throws(() => encodeReplyBatch([replies[1], replies[1]]), codecError(/id 7 appears twice/));
  assert.throws(() => decodeReplyBatch(Uint8Array.of(BATCH_VERSION, 0, 0)), codecError(/0 entries/));
  assert.throws(() => decodeReplyBatch(encodeReplyEnvelope(replies[0])), codecError(/unknown version 1/));
  assert.throws(() => decodeReplyPayload(Uint8Array.of(9, ...rb.subarray(1))), codecError(/unknown version 9/));
  assert.throws(() => decodeReplyBatch(rb.subarray(0, rb.length - 1)), CodecError);
  assert.throws(() => decodeReplyBatch(Uint8Array.of(...rb, 0)), codecError(/trailing/));
});

test('tokens: a fresh token verifies; expired, future, forged, other-broker and malformed ones do not', () => {
  const c = makeCredentials(nobleCurve, PRIV, 'broker-a', NOW, 0n);
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

test('tokens: a high-S signature is refused as what it is: a valid token re-spelled (a replay), or one no device made; not a wrong broker id', () => {
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const c = makeCredentials(nobleCurve, PRIV, 'broker-a', NOW, 0n);
  const withS = (s: bigint) => c.password.slice(0, -64) + s.toString(16).padStart(64, '0');
  const s = BigInt(`0x${c.password.slice(-64)}`);
  assert.ok(s <= n >> 1n, 'devices sign low-S');
  const reason = (password: string) => {
    const r = checkCredentials(nobleCurve, c.username, password, 'broker-a', NOW);
    return r.ok ? 'ok' : r.reason;
  };
  const respelled = reason(withS(n - s));
  assert.match(respelled, /^high-S signature \(non-canonical\): a valid token re-spelled with S replaced by n − S, which no device makes .*: a captured token replayed in another spelling, not a wrong --broker-id; device clock 0\.0 s/);
  assert.doesNotMatch(respelled, /most likely the device was started with another --broker-id/);
  // High S whose low-S form does not verify either (S + 1 spelled high); S = n and above are no spelling at all.
  assert.match(reason(withS(n - s - 1n)), /^high-S signature \(non-canonical\): no device makes one .*its low-S form does not verify either/);
  assert.match(reason(withS(n)), /^bad signature/);
  // The same high-S token over another broker id: still a high-S refusal, but not called a replay.
  const elsewhere = checkCredentials(nobleCurve, c.username, withS(n - s), 'broker-b', NOW);
  assert.ok(!elsewhere.ok && /its low-S form does not verify either/.test(elsewhere.reason));
});

/** A token as the format in auth-token.ts spells it, built here from node:crypto's SHA-256: the oracle for the version 1 and 2 layouts. */
function tokenByHand(version: 1 | 2, brokerId: string, at: number, lastId: bigint): string {
  const u64 = (v: bigint) => Buffer.from(BigInt.asUintN(64, v).toString(16).padStart(16, '0'), 'hex');
  const fields = version === 1 ? u64(BigInt(at)) : Buffer.concat([u64(BigInt(at)), u64(lastId)]);
  const hash = createHash('sha256').update(Buffer.concat([Buffer.from(`sphinx-key/mqtt-auth/v${version}\0${brokerId}\0`), fields])).digest();
  const signature = nobleCurve.sign(new Uint8Array(hash), PRIV);
  return toHex(Buffer.concat([version === 1 ? Buffer.alloc(0) : Buffer.of(2), fields, signature]));
}

test('tokens, version 2: they carry the last journaled id, signed; version 1 (older firmware) is still read, without one; others are refused', () => {
  const lastId = 2n ** 64n - 2n ** 33n;
  const c = makeCredentials(nobleCurve, PRIV, 'broker-a', NOW, lastId);
  assert.equal(c.password, tokenByHand(2, 'broker-a', NOW, lastId), 'the documented layout, byte for byte');
  assert.equal(c.password.length, 162);
  const ok = checkCredentials(nobleCurve, c.username, c.password, 'broker-a', NOW);
  assert.ok(ok.ok);
  assert.equal(ok.lastId, lastId);
  assert.equal(claimedLastId(c.password), lastId);
  const reason = (r: ReturnType<typeof checkCredentials>) => (r.ok ? 'ok' : r.reason);
  // Another last id under the same signature: the id is signed.
  const claimed = c.password.slice(0, 18) + (7n).toString(16).padStart(16, '0') + c.password.slice(34);
  assert.equal(claimedLastId(claimed), 7n);
  assert.match(reason(checkCredentials(nobleCurve, c.username, claimed, 'broker-a', NOW)), /bad signature/);

  const v1 = tokenByHand(1, 'broker-a', NOW, 0n);
  const old = checkCredentials(nobleCurve, c.username, v1, 'broker-a', NOW);
  assert.ok(old.ok && old.lastId === undefined && old.issuedAt === NOW, 'a version 1 token is read, without a last id');
  assert.equal(claimedLastId(v1), undefined);
  assert.match(reason(checkCredentials(nobleCurve, c.username, `03${c.password.slice(2)}`, 'broker-a', NOW)), /version 3 \(this broker reads 1 and 2\)/);
  assert.equal(claimedLastId(`03${c.password.slice(2)}`), undefined);
  assert.match(reason(checkCredentials(nobleCurve, c.username, c.password.slice(0, -2), 'broker-a', NOW)), /not a token \(72 or 81 bytes in hex\)/);
  assert.match(reason(checkCredentials(nobleCurve, c.username, c.password.toUpperCase(), 'broker-a', NOW)), /not a token/);
});

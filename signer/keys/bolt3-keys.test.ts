/** BOLT 3 Appendix E: the four key-derivation vectors and their worked intermediate values. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readJsonFixture } from '../../test/fixtures.js';
import { concat, fromHex, toHex } from '../bytes.js';
import { sha256 } from '../crypto/signatures.js';
import { nobleCurve as curve } from '../crypto/noble.js';
import {
  derivePrivateKey,
  derivePublicKey,
  deriveRevocationPrivateKey,
  deriveRevocationPublicKey,
  simpleTweak,
} from './bolt3-keys.js';

const d = readJsonFixture('vectors/bolt03-key-derivation.json');
const c = d.common;
const h = (s: string) => toHex(fromHex(s));
const baseSecret = fromHex(c.base_secret);
const pcSecret = fromHex(c.per_commitment_secret);
const basePoint = fromHex(c.base_point);
const pcPoint = fromHex(c.per_commitment_point);
const vector = (name: string) => d.vectors.find((v: any) => v.output_name === name);
/** The `# = 0x…` values of a vector's worked calculation, in order. */
const worked = (v: any): string[] =>
  v.spec_comment_lines.flatMap((l: string) => [...l.matchAll(/# = (0x[0-9a-f]{64,66})/g)].map((m) => h(m[1]!)));

test('common inputs: secrets times G are the stated points', () => {
  assert.equal(toHex(curve.publicKey(baseSecret)), h(c.base_point));
  assert.equal(toHex(curve.publicKey(pcSecret)), h(c.per_commitment_point));
});

test('localpubkey = basepoint + SHA256(per_commitment_point ‖ basepoint)·G', () => {
  const v = vector('localpubkey');
  assert.equal(toHex(simpleTweak(basePoint, pcPoint)), worked(v)[0]);
  assert.equal(toHex(derivePublicKey(curve, basePoint, pcPoint)), h(v.expected));
});

test('localprivkey = basepoint_secret + SHA256(per_commitment_point ‖ basepoint)', () => {
  const v = vector('localprivkey');
  const priv = derivePrivateKey(curve, baseSecret, basePoint, pcPoint);
  assert.equal(toHex(priv), h(v.expected));
  assert.equal(toHex(curve.publicKey(priv)), h(vector('localpubkey').expected));
});

/** The last 0x… value on each worked-calculation line ('' where a line has none). */
const lastHex = (v: any): string[] =>
  v.spec_comment_lines.map((l: string) => {
    const all = [...l.matchAll(/0x([0-9a-f]+)/g)];
    return all.length ? all[all.length - 1]![1]! : '';
  });

test('revocationpubkey and its worked points', () => {
  const v = vector('revocationpubkey');
  const w = lastHex(v);
  const t1 = sha256(concat(basePoint, pcPoint));
  const t2 = sha256(concat(pcPoint, basePoint));
  assert.equal(toHex(t1), w[2]); // SHA256(revocation_basepoint ‖ per_commitment_point)
  assert.equal(toHex(curve.pointMul(basePoint, t1)), w[3]); // x revocation_basepoint
  assert.equal(toHex(t2), w[6]); // SHA256(per_commitment_point ‖ revocation_basepoint)
  assert.equal(toHex(curve.pointMul(pcPoint, t2)), w[7]); // x per_commitment_point
  assert.equal(toHex(deriveRevocationPublicKey(curve, basePoint, pcPoint)), h(v.expected));
  assert.equal(w[8], h(v.expected));
});

test('revocationprivkey and its worked scalars', () => {
  const v = vector('revocationprivkey');
  const w = lastHex(v);
  const t1 = sha256(concat(basePoint, pcPoint));
  const t2 = sha256(concat(pcPoint, basePoint));
  assert.equal(toHex(curve.privateMul(baseSecret, t1)), w[3]); // * revocation_basepoint_secret
  assert.equal(toHex(curve.privateMul(pcSecret, t2)), w[7]); // * per_commitment_secret
  const priv = deriveRevocationPrivateKey(curve, baseSecret, pcSecret);
  assert.equal(toHex(priv), h(v.expected));
  assert.equal(toHex(deriveRevocationPrivateKey(curve, baseSecret, pcSecret, basePoint, pcPoint)), h(v.expected));
  assert.equal(toHex(curve.publicKey(priv)), h(vector('revocationpubkey').expected));
});

/**
 * ops/s of each `Curve` method on the three backends: nobleCurve (pure JS), tiny-secp256k1
 * (libsecp256k1 in WASM) and the secp256k1 N-API addon that fastCurve() uses. This is the
 * measurement behind choosing the addon.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { loadNativeCurve } from '../node/curve-native.js';
import { loadWasmCurve } from '../node/curve-wasm.js';
import type { Curve } from '../signer/crypto/curve.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import { type Bench, fmtOps, fmtRatio, measure, printTable } from './harness.js';

const key = (i: number) => sha256(Uint8Array.of(0xc0, i));

/** One call of each method on fixed inputs (varied by iteration where it is cheap to do). */
function operations(): [string, (c: Curve, i: number) => unknown][] {
  const a = key(1);
  const b = key(2);
  const B = nobleCurve.publicKey(b);
  const hashes = Array.from({ length: 16 }, (_, i) => key(100 + i));
  const extra = new Uint8Array(32);
  const sig = nobleCurve.sign(hashes[0]!, a);
  const A = nobleCurve.publicKey(a);
  const schnorrSig = nobleCurve.signSchnorr(hashes[0]!, a, extra);
  return [
    ['publicKey', (c) => c.publicKey(a)],
    ['privateAdd', (c) => c.privateAdd(a, b)],
    ['privateMul', (c) => c.privateMul(a, b)],
    ['pointAdd', (c) => c.pointAdd(A, B)],
    ['pointMul', (c) => c.pointMul(A, b)],
    ['pointAddTweak', (c) => c.pointAddTweak(A, b)],
    ['sign (extra entropy)', (c, i) => c.sign(hashes[i & 15]!, a, extra)],
    ['signRecoverable', (c, i) => c.signRecoverable(hashes[i & 15]!, a)],
    ['verify', (c) => c.verify(sig, hashes[0]!, A)],
    ['signSchnorr', (c, i) => c.signSchnorr(hashes[i & 15]!, a, extra)],
    ['verifySchnorr', (c) => c.verifySchnorr(schnorrSig, hashes[0]!, A.slice(1))],
    ['ecdh', (c) => c.ecdh(a, B)],
  ];
}

export const curveOpsBench: Bench = {
  name: 'Curve methods: noble vs WASM (tiny-secp256k1) vs native (secp256k1 N-API)',
  run({ baseline, budgetMs }) {
    const wasm = loadWasmCurve();
    const native = loadNativeCurve();
    const backends: [string, Curve | undefined][] = [['noble', nobleCurve], ['wasm', wasm], ['native', native]];
    const base = baseline.nobleSign.opsPerSec;
    const rows = operations().map(([name, op]) => {
      const m = backends.map(([, c]) => (c ? measure((i) => op(c, i), budgetMs) : undefined));
      const ops = m.map((x) => x?.opsPerSec ?? NaN);
      return [
        name,
        ...m.map((x) => (x ? `${fmtOps(x.opsPerSec)} (${x.iterations})` : 'n/a')),
        fmtRatio(ops[1]! / ops[0]!),
        fmtRatio(ops[2]! / ops[0]!),
        fmtRatio(ops[2]! / ops[1]!),
        ops.map((o) => fmtRatio(o / base)).join(' / '),
      ];
    });
    printTable(
      ['method', 'noble ops/s (n)', 'wasm ops/s (n)', 'native ops/s (n)', 'wasm/noble', 'native/noble', 'native/wasm', '÷ base sign (noble/wasm/native)'],
      rows,
    );
  },
};

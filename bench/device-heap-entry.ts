/**
 * What the memory bench (bench/device-heap.ts) and the XS replay lane (test/device-xs.test.ts)
 * run under XS and on Node: the device's signer (the ESP32's settings unless told otherwise)
 * answering a recorded session, kept alive afterwards so its heap can be weighed. Device code
 * only: it is bundled for XS (test/device-bundle.ts).
 */
import { fromHex, toHex } from '../signer/bytes.js';
import { createNobleCurve } from '../signer/crypto/noble.js';
import { createSecp256k1Curve } from '../signer/crypto/secp256k1/curve.js';
import { sha256 } from '../signer/crypto/signatures.js';
import type { KeyRingOptions } from '../signer/keys/node-keys.js';
import { DEFAULT_POLICY } from '../signer/policy/policy.js';
import type { Decision } from '../signer/decision.js';
import type { Envelope } from '../signer/envelope.js';
import { Signer } from '../signer/signer.js';
import type { SignerState } from '../signer/state.js';

export interface HeapExchange {
  readonly seq: number;
  readonly peer: string;
  readonly dbid: string;
  readonly permissions: string;
  readonly req: string;
  readonly rep: string | null;
}

/** A recorded session and the settings to replay it with (plain data: it crosses to XS as JSON). */
export interface DeviceReplay {
  readonly hsmSecret: string;
  readonly developer: boolean;
  /** undefined: our curve, the ESP32's (no table); a number: noble's curve with that generator table window. */
  readonly nobleWindow: number | undefined;
  /** Key ring caches; undefined = the signer's defaults (Node). */
  readonly keyCaches: NonNullable<KeyRingOptions['cacheLimits']> | undefined;
  /** Scripts (hex) the session pays outside its wallet, allowlisted as the device's owner would. */
  readonly allowlist: readonly string[];
  readonly exchanges: readonly HeapExchange[];
}

/** Kept so the signer's state stays reachable when the heap is weighed. */
const kept: Signer[] = [];

/**
 * A stand-in RNG for the measurement (XS here has no hardware RNG): SHA-256 of a counter.
 * The replies do not depend on it; the device passes esp_fill_random.
 */
function counterRandom(): (length: number) => Uint8Array {
  let counter = 0;
  return (length) => {
    const out = new Uint8Array(length);
    for (let at = 0; at < length; at += 32) out.set(sha256(Uint8Array.of(counter >> 8, counter++ & 0xff)).subarray(0, length - at), at);
    return out;
  };
}

/** A new signer with the run's settings (on `state` when given: the one a journal recovered). */
export function makeSigner(run: DeviceReplay, state?: SignerState): Signer {
  const randomBytes = counterRandom();
  const curve = run.nobleWindow === undefined ? createSecp256k1Curve({ randomBytes }) : createNobleCurve({ randomBytes, windowSize: run.nobleWindow });
  const options = {
    curve,
    developer: run.developer,
    readHsmSecret: () => fromHex(run.hsmSecret),
    policy: { ...DEFAULT_POLICY, allowlist: run.allowlist.map(fromHex) },
    ...(run.keyCaches ? { keyCacheLimits: run.keyCaches } : {}),
  };
  return new Signer(options, state);
}

/** The exchange's request as the broker hands it over, with request id `id`. */
export const envelopeOf = (ex: HeapExchange, id: bigint): Envelope => ({
  id,
  client: { peer: fromHex(ex.peer), dbid: BigInt(ex.dbid), permissions: BigInt(ex.permissions) },
  at: 0,
  message: fromHex(ex.req),
});

/** What differs between `reply` and the recording (undefined: nothing). */
export function mismatch(ex: HeapExchange, reply: Decision['reply']): string | undefined {
  const got = reply.kind === 'frame' ? toHex(reply.frame) : reply.kind === 'none' ? null : `${reply.kind}: ${reply.description}`;
  return got === ex.rep ? undefined : `seq ${ex.seq} (type ${parseInt(ex.req.slice(0, 4), 16)}): expected ${ex.rep}, got ${got}`;
}

/** Replays the session through a new signer, kept; returns each reply that differs from the recording. */
export function replay(run: DeviceReplay): string[] {
  const signer = makeSigner(run);
  kept.push(signer);
  const mismatches: string[] = [];
  let id = 0n;
  for (const ex of run.exchanges) {
    const differs = mismatch(ex, signer.handle(envelopeOf(ex, ++id)).reply);
    if (differs) mismatches.push(differs);
  }
  return mismatches;
}

/** Drops the kept signers (the heap's baseline for the next run). */
export function release(): void {
  kept.length = 0;
}

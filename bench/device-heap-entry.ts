/**
 * What the memory bench (bench/device-heap.ts) runs under XS and on Node: the device's signer
 * (the ESP32's curve settings unless told otherwise) answering a recorded session, kept alive
 * afterwards so its heap can be weighed. Device code only: it is bundled for XS.
 */
import { fromHex, toHex } from '../signer/bytes.js';
import { createNobleCurve } from '../signer/crypto/noble.js';
import { sha256 } from '../signer/crypto/signatures.js';
import type { KeyRingOptions } from '../signer/keys/node-keys.js';
import { Signer } from '../signer/signer.js';

type KeyCacheLimits = NonNullable<KeyRingOptions['cacheLimits']>;

export interface HeapExchange {
  readonly peer: string;
  readonly dbid: string;
  readonly permissions: string;
  readonly req: string;
  readonly rep: string | null;
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

/** Replays `exchanges` through a new signer; returns the number of replies that differ. */
export function replay(
  hsmSecret: string,
  developer: boolean,
  windowSize: number,
  keyCacheLimits: KeyCacheLimits | undefined,
  exchanges: readonly HeapExchange[],
): number {
  const curve = createNobleCurve({ randomBytes: counterRandom(), windowSize });
  const signer = new Signer({ curve, developer, readHsmSecret: () => fromHex(hsmSecret), ...(keyCacheLimits ? { keyCacheLimits } : {}) });
  kept.push(signer);
  let mismatches = 0;
  let id = 0n;
  for (const ex of exchanges) {
    const decision = signer.handle({
      id: ++id,
      client: { peer: fromHex(ex.peer), dbid: BigInt(ex.dbid), permissions: BigInt(ex.permissions) },
      at: 0,
      message: fromHex(ex.req),
    });
    const got = decision.reply.kind === 'frame' ? toHex(decision.reply.frame) : decision.reply.kind === 'none' ? null : decision.reply.kind;
    if (got !== ex.rep) mismatches++;
  }
  return mismatches;
}

/** Drops the kept signers (the heap's baseline for the next run). */
export function release(): void {
  kept.length = 0;
}

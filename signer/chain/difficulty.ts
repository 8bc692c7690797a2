/**
 * Proof of work and the difficulty rules a header must follow, as far as the device can
 * check them from its window of headers (docs/chain.md):
 * - the hash is at most the target nBits encodes, and that target at most powLimit;
 * - regtest: nBits never changes;
 * - inside a difficulty period: nBits equals the parent's (testnet also allows powLimit
 *   for a block more than 20 minutes after its parent, and then the last non-minimum
 *   bits again);
 * - at a period boundary: exactly Bitcoin Core's retarget when the device saw the
 *   period's first header, else within a factor of 4 of the parent's target;
 * - the time is above the median of the last 11 headers' times.
 */
import { bitsToTarget, hashToBigInt, targetToBits, type BlockHeader } from './header.js';
import { RETARGET_INTERVAL, TARGET_TIMESPAN, type NetworkRules } from './networks.js';
import { MEDIAN_TIME_SPAN, tipOf, type ChainView } from './view.js';

export type HeaderFault = { readonly name: 'chain-header-bad-pow' | 'chain-header-bad-difficulty' | 'chain-header-bad-time'; readonly detail: string };

const hex32 = (n: bigint): string => n.toString(16).padStart(64, '0');

/** Why `header`, at `height` on top of the view's tip, is refused, or undefined. */
export function headerFault(rules: NetworkRules, view: ChainView, height: number, header: BlockHeader): HeaderFault | undefined {
  const target = bitsToTarget(header.bits);
  const bits = `0x${header.bits.toString(16).padStart(8, '0')}`;
  if (target === undefined || target === 0n) return { name: 'chain-header-bad-pow', detail: `nBits ${bits} encodes no valid target` };
  if (target > rules.powLimit) return { name: 'chain-header-bad-pow', detail: `nBits ${bits} is easier than the ${rules.name} limit` };
  const hash = hashToBigInt(header.hash);
  if (hash > target) return { name: 'chain-header-bad-pow', detail: `hash ${hex32(hash)} is above the target ${hex32(target)}` };

  const expected = expectedBits(rules, view, height, header);
  if (expected !== undefined && !expected.includes(header.bits)) {
    const want = expected.map((b) => `0x${b.toString(16).padStart(8, '0')}`).join(' or ');
    return { name: 'chain-header-bad-difficulty', detail: `nBits ${bits} at height ${height}, expected ${want}` };
  }
  if (expected === undefined && !withinFactorFour(view, header.bits)) {
    return { name: 'chain-header-bad-difficulty', detail: `nBits ${bits} at height ${height} moves the target more than 4x` };
  }
  const median = medianTimePast(view);
  if (header.time <= median) return { name: 'chain-header-bad-time', detail: `time ${header.time} is not after the median time past ${median}` };
  return undefined;
}

/** The nBits values allowed, or undefined where only the factor-4 bound can be checked. */
function expectedBits(rules: NetworkRules, view: ChainView, height: number, header: BlockHeader): number[] | undefined {
  const parent = tipOf(view);
  if (rules.noRetargeting) return [parent.bits];
  if (height % RETARGET_INTERVAL !== 0) {
    if (!rules.minDifficultyBlocks) return [parent.bits];
    const minimum = targetToBits(rules.powLimit);
    if (header.time > parent.time + 20 * 60) return [minimum, lastNormalBits(view, minimum)];
    return [lastNormalBits(view, minimum)];
  }
  const start = view.periodStart;
  if (start === undefined || start.height !== height - RETARGET_INTERVAL) return undefined;
  // pow.cpp CalculateNextWorkRequired.
  const span = Math.min(Math.max(parent.time - start.time, TARGET_TIMESPAN / 4), TARGET_TIMESPAN * 4);
  let next = (bitsToTarget(parent.bits)! * BigInt(span)) / BigInt(TARGET_TIMESPAN);
  if (next > rules.powLimit) next = rules.powLimit;
  return [targetToBits(next)];
}

/** Testnet: the bits of the last header in this period that did not use the minimum. */
function lastNormalBits(view: ChainView, minimum: number): number {
  for (let i = view.recent.length - 1; i >= 0; i--) {
    const k = view.recent[i]!;
    if (k.bits !== minimum || k.height % RETARGET_INTERVAL === 0) return k.bits;
  }
  return view.recent[0]!.bits;
}

function withinFactorFour(view: ChainView, bits: number): boolean {
  const previous = bitsToTarget(tipOf(view).bits)!;
  const next = bitsToTarget(bits)!;
  return next * 4n >= previous && next <= previous * 4n;
}

function medianTimePast(view: ChainView): number {
  const times = view.recent.slice(-MEDIAN_TIME_SPAN).map((k) => k.time).sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

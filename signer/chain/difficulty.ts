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
 * - the time is above the median of the last 11 headers' times (right after a checkpoint
 *   above the genesis, above the checkpoint's median time past).
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
  if (Array.isArray(expected) && !expected.includes(header.bits)) {
    const want = expected.map((b) => `0x${b.toString(16).padStart(8, '0')}`).join(' or ');
    return { name: 'chain-header-bad-difficulty', detail: `nBits ${bits} at height ${height}, expected ${want}` };
  }
  if (expected === WITHIN_FACTOR_FOUR && !withinFactorFour(view, header.bits)) {
    return { name: 'chain-header-bad-difficulty', detail: `nBits ${bits} at height ${height} moves the target more than 4x` };
  }
  const median = medianTimePast(rules, view);
  if (header.time <= median) return { name: 'chain-header-bad-time', detail: `time ${header.time} is not after the median time past ${median}` };
  return undefined;
}

/** Where only the factor-4 bound can be checked: a retarget without the period's first header. */
const WITHIN_FACTOR_FOUR = 'within-factor-four';
/** Testnet: the period's normal nBits are below the window (see lastNormalBits). */
const UNKNOWN = 'unknown';

/** The nBits values allowed, or which weaker check applies. */
function expectedBits(rules: NetworkRules, view: ChainView, height: number, header: BlockHeader): number[] | typeof WITHIN_FACTOR_FOUR | typeof UNKNOWN {
  const parent = tipOf(view);
  if (rules.noRetargeting) return [parent.bits];
  if (height % RETARGET_INTERVAL !== 0) {
    if (!rules.minDifficultyBlocks) return [parent.bits];
    const minimum = targetToBits(rules.powLimit);
    const normal = lastNormalBits(view, minimum);
    if (normal === undefined) return UNKNOWN;
    return header.time > parent.time + 20 * 60 ? [minimum, normal] : [normal];
  }
  const start = view.periodStart;
  if (start === undefined || start.height !== height - RETARGET_INTERVAL) return WITHIN_FACTOR_FOUR;
  // pow.cpp CalculateNextWorkRequired.
  const span = Math.min(Math.max(parent.time - start.time, TARGET_TIMESPAN / 4), TARGET_TIMESPAN * 4);
  let next = (bitsToTarget(parent.bits)! * BigInt(span)) / BigInt(TARGET_TIMESPAN);
  if (next > rules.powLimit) next = rules.powLimit;
  return [targetToBits(next)];
}

/**
 * Testnet: the bits of the last header that did not use the minimum, or began the period
 * (pow.cpp GetNextWorkRequired's walk back). After more minimum-difficulty blocks in a row
 * than the window holds the device cannot know them: undefined, and such a header's nBits
 * are checked only against powLimit (docs/chain.md "Header rules").
 */
function lastNormalBits(view: ChainView, minimum: number): number | undefined {
  for (let i = view.recent.length - 1; i >= 0; i--) {
    const k = view.recent[i]!;
    if (k.bits !== minimum || k.height % RETARGET_INTERVAL === 0) return k.bits;
  }
  return undefined;
}

function withinFactorFour(view: ChainView, bits: number): boolean {
  const previous = bitsToTarget(tipOf(view).bits)!;
  const next = bitsToTarget(bits)!;
  return next * 4n >= previous && next <= previous * 4n;
}

/**
 * The median of the last 11 headers' times (pow.cpp GetMedianTimePast; fewer near the
 * genesis). With fewer than 11 headers above a checkpoint the device lacks the ones before
 * it: the checkpoint's median time past, which the chain's median never goes below.
 */
function medianTimePast(rules: NetworkRules, view: ChainView): number {
  if (view.recent.length < MEDIAN_TIME_SPAN && view.recent[0]!.height > 0) return rules.checkpoint.medianTimePast;
  const times = view.recent.slice(-MEDIAN_TIME_SPAN).map((k) => k.time).sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/**
 * PolicyConfig in two forms: binary (record-fields.ts types: the journal's PolicyChanged
 * events and the state snapshot) and JSON (the device's policy file and sphinx-ctl).
 *
 * Binary: u32 n ‖ string warnOnly* ‖ u32 n ‖ string off* (both sorted) ‖ u32 minFeeratePerKw
 *   ‖ u32 maxFeeratePerKw ‖ u32 minToSelfDelay ‖ u32 maxToSelfDelay ‖ u32 maxHtlcs
 *   ‖ u64 maxHtlcValueSat ‖ u64 maxChannelValueSat ‖ u32 n ‖ bytes allowlist*
 *   ‖ u64 velocityLimitSat ‖ u32 velocityWindowSec ‖ u32 n ‖ bytes payeeAllowlist*
 *   ‖ u32 maxHtlcCltvDelta ‖ u32 htlcExpiredGraceBlocks ‖ u32 minForgetDepth ‖ u64 maxUnconfirmedHtlcSat
 *
 * JSON: an object with any of PolicyConfig's keys (docs/policies.md "The device's policy"):
 * numbers (sat amounts also as decimal strings), rule names for warnOnly/off, addresses in the
 * network's own format or hex scriptPubKeys for allowlist, hex node ids for payeeAllowlist.
 * Keys left out keep `base`'s value; an unknown key, rule or malformed value is a
 * PolicyJsonError naming it.
 */
import { fromHex, toHex } from '../bytes.js';
import { AddressError, allowlistScript, type Network } from '../address/address.js';
import { list, readString, u32, u64, varBytes, writeString } from '../record-fields.js';
import { struct, type Codec } from '../wire/codec.js';
import type { WireReader } from '../wire/reader.js';
import { isPolicyName, POLICIES, type PolicyName } from './catalog.js';
import type { PolicyConfig } from './policy.js';

const sorted = (names: ReadonlySet<string>): string[] => [...names].sort();

/** A set of rule names: a list of strings, sorted so that equal sets give equal bytes. */
const policyNames: Codec<Set<PolicyName>> = {
  encode(w, names) {
    w.u32(names.size);
    for (const n of sorted(names)) writeString(w, n);
  },
  decode(r: WireReader) {
    const names = new Set<PolicyName>();
    for (let i = r.u32(); i > 0; i--) {
      const name = readString(r);
      if (!isPolicyName(name)) r.fail(`unknown policy ${JSON.stringify(name)}`, r.offset);
      names.add(name);
    }
    return names;
  },
};

/** PolicyConfig in binary, its fields in the order above. */
export const policyConfig: Codec<PolicyConfig> = struct({
  warnOnly: policyNames,
  off: policyNames,
  minFeeratePerKw: u32,
  maxFeeratePerKw: u32,
  minToSelfDelay: u32,
  maxToSelfDelay: u32,
  maxHtlcs: u32,
  maxHtlcValueSat: u64,
  maxChannelValueSat: u64,
  allowlist: list(varBytes),
  velocityLimitSat: u64,
  velocityWindowSec: u32,
  payeeAllowlist: list(varBytes),
  maxHtlcCltvDelta: u32,
  htlcExpiredGraceBlocks: u32,
  minForgetDepth: u32,
  maxUnconfirmedHtlcSat: u64,
});

export class PolicyJsonError extends Error {
  override readonly name = 'PolicyJsonError';
}

const U32_KEYS = ['minFeeratePerKw', 'maxFeeratePerKw', 'minToSelfDelay', 'maxToSelfDelay', 'maxHtlcs', 'velocityWindowSec', 'maxHtlcCltvDelta', 'htlcExpiredGraceBlocks', 'minForgetDepth'] as const;
const SAT_KEYS = ['maxHtlcValueSat', 'maxChannelValueSat', 'velocityLimitSat', 'maxUnconfirmedHtlcSat'] as const;
const KEYS: readonly string[] = ['warnOnly', 'off', ...U32_KEYS, ...SAT_KEYS, 'allowlist', 'payeeAllowlist'];

function wholeU32(key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new PolicyJsonError(`${key}: expected a whole number 0..4294967295, got ${JSON.stringify(v)}`);
  return v;
}

function sat(key: string, v: unknown): bigint {
  if ((typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) || (typeof v === 'string' && /^\d{1,20}$/.test(v))) {
    const n = BigInt(v);
    if (n < 1n << 64n) return n;
  }
  throw new PolicyJsonError(`${key}: expected an amount in sat (a whole number, or a decimal string), got ${JSON.stringify(v)}`);
}

function strings(key: string, v: unknown): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new PolicyJsonError(`${key}: expected a list of strings`);
  return v as string[];
}

function names(key: string, v: unknown): Set<PolicyName> {
  return new Set(
    strings(key, v).map((n) => {
      if (!isPolicyName(n)) throw new PolicyJsonError(`${key}: unknown policy ${JSON.stringify(n)}; known: ${Object.keys(POLICIES).join(', ')}`);
      return n;
    }),
  );
}

/** The JSON value of one PolicyConfig key, checked; addresses checked against `network` if known. */
export function policyValue(key: string, v: unknown, network: Network | undefined): Partial<PolicyConfig> {
  if ((U32_KEYS as readonly string[]).includes(key)) return { [key]: wholeU32(key, v) };
  if ((SAT_KEYS as readonly string[]).includes(key)) return { [key]: sat(key, v) };
  switch (key) {
    case 'warnOnly':
    case 'off':
      return { [key]: names(key, v) };
    case 'allowlist':
      return {
        allowlist: strings(key, v).map((entry) => {
          try {
            return allowlistScript(entry, network);
          } catch (e) {
            if (e instanceof AddressError) throw new PolicyJsonError(`allowlist: ${e.message}`);
            throw e;
          }
        }),
      };
    case 'payeeAllowlist':
      return {
        payeeAllowlist: strings(key, v).map((id) => {
          if (!/^0[23][0-9a-f]{64}$/.test(id)) throw new PolicyJsonError(`payeeAllowlist: ${JSON.stringify(id)} is not a node id (66 hex digits starting 02 or 03)`);
          return fromHex(id);
        }),
      };
    default:
      throw new PolicyJsonError(`unknown policy setting ${JSON.stringify(key)}; known: ${KEYS.join(', ')}`);
  }
}

/** `base` with the settings of a parsed JSON object applied. */
export function policyFromJson(json: unknown, base: PolicyConfig, network: Network | undefined): PolicyConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new PolicyJsonError('expected a JSON object of policy settings');
  let policy = base;
  for (const [key, v] of Object.entries(json)) policy = { ...policy, ...policyValue(key, v, network) };
  if (policy.minFeeratePerKw > policy.maxFeeratePerKw) throw new PolicyJsonError(`minFeeratePerKw ${policy.minFeeratePerKw} is above maxFeeratePerKw ${policy.maxFeeratePerKw}`);
  if (policy.minToSelfDelay > policy.maxToSelfDelay) throw new PolicyJsonError(`minToSelfDelay ${policy.minToSelfDelay} is above maxToSelfDelay ${policy.maxToSelfDelay}`);
  if (policy.velocityWindowSec === 0) throw new PolicyJsonError('velocityWindowSec must be at least 1');
  return policy;
}

/** The JSON form (sat amounts as strings, scripts and node ids in hex). */
export function policyToJson(p: PolicyConfig): Record<string, unknown> {
  return {
    warnOnly: sorted(p.warnOnly),
    off: sorted(p.off),
    minFeeratePerKw: p.minFeeratePerKw,
    maxFeeratePerKw: p.maxFeeratePerKw,
    minToSelfDelay: p.minToSelfDelay,
    maxToSelfDelay: p.maxToSelfDelay,
    maxHtlcs: p.maxHtlcs,
    maxHtlcValueSat: String(p.maxHtlcValueSat),
    maxChannelValueSat: String(p.maxChannelValueSat),
    allowlist: p.allowlist.map(toHex),
    velocityLimitSat: String(p.velocityLimitSat),
    velocityWindowSec: p.velocityWindowSec,
    payeeAllowlist: p.payeeAllowlist.map(toHex),
    maxHtlcCltvDelta: p.maxHtlcCltvDelta,
    htlcExpiredGraceBlocks: p.htlcExpiredGraceBlocks,
    minForgetDepth: p.minForgetDepth,
    maxUnconfirmedHtlcSat: String(p.maxUnconfirmedHtlcSat),
  };
}

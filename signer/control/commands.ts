/**
 * The owner's control commands, decided on the device (pure: the state, the policy in
 * force, the node's network in; events and a result out). A command is accepted only with a
 * nonce above the last accepted one (state.controlNonce): an exact repeat is `replayed`,
 * an older one `stale`. Accepting journals ControlAccepted (the nonce used up) with the
 * command's change (PolicyChanged, PaymentApprovalGranted); `status` changes nothing but
 * its nonce. A well-signed command with bad arguments is refused (`invalid`) and uses no nonce.
 */
import { equal, fromHex, toHex } from '../bytes.js';
import type { Network } from '../address/address.js';
import { Bolt11Error, readBolt11 } from '../address/bolt11.js';
import type { SignerEvent } from '../events.js';
import { policyFromJson, PolicyJsonError, policyToJson, policyValue } from '../policy/policy-codec.js';
import type { PolicyConfig } from '../policy/policy.js';
import { velocityUsedMsat } from '../policy/payment-rules.js';
import type { SignerState } from '../state.js';
import { bodyObject, ControlError } from './wire.js';
import { parseDecimalU64 } from '../remote/decimal-u64.js';

export const COMMANDS = ['status', 'policy-set', 'allowlist-add', 'allowlist-remove', 'limits-set', 'approve'] as const;
export type CommandName = (typeof COMMANDS)[number];

export interface ControlCommand {
  readonly device: string;
  readonly nonce: bigint;
  readonly command: CommandName;
  readonly args: Record<string, unknown>;
}

/** A command body as sphinx-ctl writes it. */
export const commandBody = (c: ControlCommand): string =>
  JSON.stringify({ device: c.device, nonce: String(c.nonce), command: c.command, args: c.args });

/** Parses a signed command body; ControlError('malformed') if it is not one. */
export function parseCommand(body: string): ControlCommand {
  const o = bodyObject(body);
  if (typeof o.device !== 'string') throw new ControlError('malformed', 'device: expected the device id');
  const nonce = parseDecimalU64('nonce', o.nonce);
  if (nonce instanceof Error || nonce === 0n) throw new ControlError('malformed', 'nonce: expected a decimal string 1..2^64-1');
  if (typeof o.command !== 'string' || !(COMMANDS as readonly string[]).includes(o.command))
    throw new ControlError('malformed', `command: expected one of ${COMMANDS.join(', ')}`);
  const args = o.args ?? {};
  if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new ControlError('malformed', 'args: expected an object');
  return { device: o.device, nonce, command: o.command as CommandName, args: args as Record<string, unknown> };
}

export interface ControlContext {
  readonly deviceId: string;
  readonly state: SignerState;
  /** The policy in force (the state's, else the device's configured default). */
  readonly policy: PolicyConfig;
  /** The node's network once hsmd_init told it: addresses are checked against it. */
  readonly network: Network | undefined;
  /** The device's clock, unix seconds (for the velocity window in `status`). */
  readonly now: number;
}

export interface ControlDecision {
  readonly events: readonly SignerEvent[];
  readonly result: Record<string, unknown>;
}

/** Decides an authenticated command; throws ControlError (other-device, replayed, stale, invalid). */
export function decideCommand(ctx: ControlContext, cmd: ControlCommand): ControlDecision {
  if (cmd.device !== ctx.deviceId) throw new ControlError('other-device', `the command is for device ${cmd.device}, this is ${ctx.deviceId}`);
  const last = ctx.state.controlNonce;
  if (cmd.nonce === last) throw new ControlError('replayed', `nonce ${cmd.nonce} was already used by the last accepted command`);
  if (cmd.nonce < last) throw new ControlError('stale', `nonce ${cmd.nonce} is not above the last accepted nonce ${last}`);
  const accepted: SignerEvent = { kind: 'ControlAccepted', nonce: cmd.nonce, command: describe(cmd) };
  const change = (policy: PolicyConfig): ControlDecision => ({
    events: [accepted, { kind: 'PolicyChanged', policy, fileDigest: new Uint8Array(0) }],
    result: { policy: policyToJson(policy) },
  });
  try {
    switch (cmd.command) {
      case 'status':
        return { events: [accepted], result: status(ctx) };
      case 'policy-set':
        return change(policyFromJson(cmd.args.settings, ctx.policy, ctx.network));
      case 'limits-set': {
        const keys = Object.keys(cmd.args);
        const bad = keys.filter((k) => k !== 'velocityLimitSat' && k !== 'velocityWindowSec' && k !== 'payeeAllowlist');
        if (bad.length > 0 || keys.length === 0) throw new ControlError('invalid', 'limits-set takes velocityLimitSat, velocityWindowSec and payeeAllowlist');
        return change(policyFromJson(cmd.args, ctx.policy, ctx.network));
      }
      case 'allowlist-add':
      case 'allowlist-remove': {
        const scripts = policyValue('allowlist', cmd.args.entries, ctx.network).allowlist!;
        const current = ctx.policy.allowlist;
        if (cmd.command === 'allowlist-add') return change({ ...ctx.policy, allowlist: [...current, ...scripts.filter((s) => !current.some((c) => equal(c, s)))] });
        const missing = scripts.filter((s) => !current.some((c) => equal(c, s)));
        if (missing.length > 0) throw new ControlError('invalid', `not on the allowlist: ${missing.map(toHex).join(', ')}`);
        return change({ ...ctx.policy, allowlist: current.filter((c) => !scripts.some((s) => equal(c, s))) });
      }
      case 'approve': {
        const paymentHash = approvedHash(cmd.args);
        return { events: [accepted, { kind: 'PaymentApprovalGranted', paymentHash }], result: { approved: toHex(paymentHash) } };
      }
    }
  } catch (e) {
    if (e instanceof PolicyJsonError || e instanceof Bolt11Error) throw new ControlError('invalid', e.message);
    throw e;
  }
}

function approvedHash(args: Record<string, unknown>): Uint8Array {
  if (typeof args.invoice === 'string') return readBolt11(args.invoice).paymentHash;
  if (typeof args.paymentHash === 'string' && /^[0-9a-f]{64}$/.test(args.paymentHash)) return fromHex(args.paymentHash);
  throw new ControlError('invalid', 'approve takes {"paymentHash": 64 hex digits} or {"invoice": a BOLT 11 invoice}');
}

function status(ctx: ControlContext): Record<string, unknown> {
  const { state, policy, now } = ctx;
  return {
    policy: policyToJson(policy),
    policySource: state.policy === undefined ? 'default' : 'device',
    controlNonce: String(state.controlNonce),
    velocity: { usedMsat: String(velocityUsedMsat(state, policy, now)), limitSat: String(policy.velocityLimitSat), windowSec: policy.velocityWindowSec },
    approvals: [...state.approvals].sort(),
    channels: state.channels.size,
    network: ctx.network ?? null,
  };
}

/** The command as the journal and the log show it. */
const describe = (c: ControlCommand): string => `${c.command} ${JSON.stringify(c.args)}`;

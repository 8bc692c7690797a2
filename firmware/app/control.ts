/**
 * The device's own policy and the owner's signed control
 * (docs/policies.md "The device's policy", docs/remote-protocol.md "Control"):
 * - at boot, the policy file (policy.json in the data directory) is applied when it differs
 *   from the last one applied: a PolicyChanged event, journaled as a `policy-file` record;
 *   keys it leaves out take the device defaults. An invalid file stops the boot (the fix named).
 * - each message on the `control` topic is opened (owner's signature), decided
 *   (signer/control/commands.ts), journaled as a `control` record before the answer leaves,
 *   and answered on `control-res` with a response signed by the node key. A refusal
 *   (malformed, wrong key, forged, replayed, stale, invalid) changes nothing, is logged, and
 *   is answered too, signed, so the owner learns why.
 */
import { sha256 } from '../../signer/crypto/signatures.js';
import { equal, toHex } from '../../signer/bytes.js';
import { chainOf, type Network } from '../../signer/address/address.js';
import { decideCommand, parseCommand, type ControlCommand } from '../../signer/control/commands.js';
import { commandDigestOf, ControlError, openMessage, signMessage } from '../../signer/control/wire.js';
import type { Curve } from '../../signer/crypto/curve.js';
import { policyFromJson, PolicyJsonError } from '../../signer/policy/policy-codec.js';
import type { PolicyConfig } from '../../signer/policy/policy.js';
import type { SignerState } from '../../signer/state.js';
import type { SignerCore } from '../../core/signer-core.js';
import { DeviceSetupError, type Clock } from './ports.js';

export const POLICY_FILE = 'policy.json';
export const OWNER_KEY_FILE = 'owner.pub';

const networkOf = (state: SignerState): Network | undefined => (state.node ? chainOf(state.node.chainHash) : undefined);

/**
 * Applies the policy file if it changed since it was last applied; returns what it did, for
 * the log. `defaults` is the device's default policy (what keys left out take).
 */
export function applyPolicyFile(core: SignerCore, file: Uint8Array, defaults: PolicyConfig, clock: Clock): string | undefined {
  const digest = sha256(file);
  const last = core.state.policyFileDigest;
  if (last !== undefined && equal(last, digest)) return undefined;
  let policy: PolicyConfig;
  try {
    policy = policyFromJson(JSON.parse(new TextDecoder().decode(file)), defaults, networkOf(core.state));
  } catch (e) {
    if (!(e instanceof SyntaxError || e instanceof PolicyJsonError)) throw e;
    throw new DeviceSetupError(`${POLICY_FILE} in the data directory: ${e.message}; fix it (docs/policies.md lists the settings) or remove it for the defaults`);
  }
  core.commit('policy-file', [{ kind: 'PolicyChanged', policy, fileDigest: digest }], clock.now());
  return `${POLICY_FILE} applied (sha256 ${toHex(digest)})`;
}

/** Checks a provisioned owner key: a compressed public key that is not the node's own. */
export function checkOwnerKey(ownerKey: string, nodePublicKey: string): string {
  const key = ownerKey.trim().toLowerCase();
  if (!/^0[23][0-9a-f]{64}$/.test(key)) throw new DeviceSetupError(`${OWNER_KEY_FILE}: expected the owner's compressed public key in hex (sphinx-ctl keygen prints it)`);
  if (key === nodePublicKey) throw new DeviceSetupError(`${OWNER_KEY_FILE} holds the node's own key: the owner's key must be another one (sphinx-ctl keygen), so the node cannot command the device`);
  return key;
}

export interface DeviceControlOptions {
  readonly core: SignerCore;
  readonly curve: Curve;
  readonly nodeKey: Uint8Array;
  readonly deviceId: string;
  /** The owner's public key hex; undefined: not provisioned, every command refused. */
  readonly ownerKey: string | undefined;
  readonly clock: Clock;
  /** The policy in force when the state has none. */
  readonly policy: () => PolicyConfig;
  readonly log: (level: 'info' | 'unusual', line: string) => void;
}

export class DeviceControl {
  constructor(private readonly options: DeviceControlOptions) {}

  /** One control message in, the signed response out (after any change is journaled). */
  handle(payload: Uint8Array): Uint8Array {
    const { core, curve, nodeKey, deviceId, ownerKey, clock, log } = this.options;
    const request = toHex(commandDigestOf(payload));
    let command: ControlCommand | undefined;
    let body: Record<string, unknown>;
    try {
      if (ownerKey === undefined) throw new ControlError('no-owner', `no owner key provisioned: write the owner's public key (sphinx-ctl keygen) to ${OWNER_KEY_FILE} in the device's data directory and restart it`);
      const opened = openMessage(curve, payload, 'command', ownerKey);
      command = parseCommand(opened.body);
      const now = clock.now();
      const decision = decideCommand(
        { deviceId, state: core.state, policy: this.options.policy(), network: networkOf(core.state), now: Math.floor(now / 1000) },
        command,
      );
      core.commit('control', decision.events, now); // write-ahead: durable before the answer
      log('info', `control: ${command.command} (nonce ${command.nonce}) accepted`);
      body = { ok: true, result: decision.result };
    } catch (e) {
      if (!(e instanceof ControlError)) throw e;
      log('unusual', `control: ${command ? `${command.command} (nonce ${command.nonce})` : 'a command'} refused (${e.refusal}): ${e.message}`);
      body = { ok: false, refusal: e.refusal, error: e.message };
    }
    const response = { device: deviceId, request, nonce: command ? String(command.nonce) : null, ...body };
    return signMessage(curve, nodeKey, 'response', JSON.stringify(response));
  }
}

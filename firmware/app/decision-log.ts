/**
 * What the device says of a decision it made (firmware/app/device.ts logs each request
 * through here): refusals by policy and replies that stop hsmd.
 */
import type { Reply } from '../../signer/decision.js';
import type { Envelope } from '../../signer/envelope.js';
import type { SignerEvent } from '../../signer/events.js';
import { messageNameOf, requestType } from '../../signer/wire/messages.js';
import type { DeviceLogLevel } from './device.js';

/**
 * A policy refusal is the device's to report: a preapproval's answer carries no reason. So is a
 * fatal reply (hsmd stops, and lightningd with it): its text says what differed and the likely
 * cause (another node's seed, for a wallet key check), on the device where the seed is.
 */
export function logRefusals(env: Envelope, handled: { reply: Reply; events?: readonly SignerEvent[] }, log: (level: DeviceLogLevel, line: string) => void): void {
  const { id } = env;
  for (const e of handled.events ?? []) if (e.kind === 'PolicyRefused') log('unusual', `request ${id} refused: ${e.policy}: ${e.detail}`);
  const { reply } = handled;
  if (reply.kind === 'bad-request' && reply.description.startsWith('policy-')) log('unusual', `request ${id} refused: ${reply.description}`);
  if (reply.kind === 'fatal') {
    const type = requestType(env.message);
    log('broken', `request ${id} (${messageNameOf(type) ?? `type ${type}`}) failed: lightningd's hsmd stops on this reply: ${reply.description}`);
  }
}

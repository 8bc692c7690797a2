/**
 * decide: one request in, the events it causes and the reply out (docs/design.md#the-signer-core).
 *
 * Pure: the same context, state and envelope give the same decision, on Node and on the
 * device. The order of checks is hsmd's: capability gate, parse, initialised, handler.
 */
import { badRequest, fatal, type Decision } from './decision.js';
import type { Envelope } from './envelope.js';
import { channelHandlers } from './handlers/channel.js';
import { commitmentHandlers } from './handlers/commitment.js';
import type { DecideContext, Handler, HandlerTable } from './handlers/context.js';
import { gossipHandlers } from './handlers/gossip.js';
import { initHandlers } from './handlers/init.js';
import { nodeHandlers } from './handlers/node.js';
import { onchainHandlers } from './handlers/onchain.js';
import { paymentHandlers } from './handlers/payments.js';
import { mayRequest } from './permissions.js';
import type { SignerState } from './state.js';
import { WireError } from './wire/errors.js';
import { decodeMessage, requestType, type HsmdMessage, type MessageName } from './wire/messages.js';

const HANDLERS: HandlerTable = {
  ...initHandlers,
  ...nodeHandlers,
  ...gossipHandlers,
  ...channelHandlers,
  ...commitmentHandlers,
  ...paymentHandlers,
  ...onchainHandlers,
};

/** Requests that do not need hsm_secret's keys (the rest need init first). */
const KEYLESS: ReadonlySet<MessageName> = new Set(['hsmd_dev_preinit']);

/** Like DecideContext, but before hsmd_init there are no keys yet. */
export type SignerContext = Omit<DecideContext, 'keys'> & { readonly keys: DecideContext['keys'] | undefined };

export function decide(ctx: SignerContext, state: SignerState, env: Envelope): Decision {
  const type = requestType(env.message);
  // libhsmd.c hsmd_handle_client_message: the capability gate comes first.
  if (!mayRequest(env.client.permissions, type)) return badRequest(`does not have capability to run ${type}`);

  let msg: HsmdMessage;
  const pointsAt: number[] = [];
  try {
    msg = decodeMessage(env.message, pointsAt);
  } catch (e) {
    if (e instanceof WireError) return badRequest('could not parse request');
    throw e;
  }
  // fromwire_pubkey parses each pubkey as it reads it: a field that is no point fails the parse.
  for (const at of pointsAt) if (!ctx.curve.isCompressedPoint(env.message.subarray(at, at + 33))) return badRequest('could not parse request');

  const handler = HANDLERS[msg.name] as Handler<MessageName> | undefined;
  if (!handler) return badRequest('Unknown request');
  if (!ctx.keys && !KEYLESS.has(msg.name))
    return fatal('master-io', `hsmd was not initialized correctly, expected message type 11, got ${type}`);
  return handler(ctx as DecideContext, state, env, msg as never);
}

/**
 * lightningd's hsmd_init as the session keeps it (docs/remote-protocol.md "Init"): the request
 * once it went to a device, and its reply once known. A device saying hello later is sent the
 * same init first and is used only if its reply is the same bytes (the same seed).
 */
import { equal, toHex } from '../../signer/bytes.js';
import type { Reply } from '../../signer/decision.js';
import type { Envelope } from '../../signer/envelope.js';
import { encodeReplyEnvelope } from '../../signer/remote/envelope-codec.js';
import { decodeMessage, messageType, requestType } from '../../signer/wire/messages.js';

export const WIRE_HSMD_INIT = messageType('hsmd_init');
const WIRE_HSMD_INIT_REPLY_V4 = messageType('hsmd_init_reply_v4');

/** The reply's bytes without the id: what two devices with one seed must agree on. */
const replyBytes = (reply: Reply): Uint8Array => encodeReplyEnvelope({ id: 0n, reply });

export class KeptInit {
  #envelope: Envelope | undefined;
  #reply: Uint8Array | undefined;

  /** lightningd's init went out to a device (the first time counts). */
  sent(envelope: Envelope): void {
    this.#envelope ??= envelope;
  }

  /**
   * lightningd's init was answered with `frame`: kept, with the node id it names (v4 replies)
   * or why that could not be read.
   */
  learn(envelope: Envelope, frame: Uint8Array): { readonly nodeIdHex?: string; readonly unreadable?: string } {
    this.#envelope = envelope;
    this.#reply = replyBytes({ kind: 'frame', frame });
    if (requestType(frame) !== WIRE_HSMD_INIT_REPLY_V4) return {};
    try {
      const decoded = decodeMessage(frame);
      return decoded.name === 'hsmd_init_reply_v4' ? { nodeIdHex: toHex(decoded.node_id) } : {};
    } catch (e) {
      return { unreadable: (e as Error).message };
    }
  }

  /** The init a device must handle before anything new: lightningd's, answered or only sent. */
  get envelope(): Envelope | undefined {
    return this.#envelope;
  }

  /** True if `reply` is the kept one, or none is known yet (then this device gives it). */
  agrees(reply: Reply): boolean {
    return this.#reply === undefined || equal(replyBytes(reply), this.#reply);
  }
}

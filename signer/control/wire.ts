/**
 * Signed control messages between the owner (sphinx-ctl) and the device, relayed by the
 * broker on the `control` / `control-res` topics (docs/remote-protocol.md "Control").
 *
 * Both directions are JSON: `{"v":1,"key":"<33-byte pubkey hex>","body":"<JSON text>","sig":"<64-byte hex>"}`,
 * `sig` a low-S compact ECDSA signature by `key` over SHA-256(tag ‖ 0x00 ‖ UTF-8 body), the
 * tag "sphinx-control/v1 command" or "sphinx-control/v1 response" (a signature of one kind
 * can never pass for the other). The body is signed as the exact text sent, so no canonical
 * JSON is needed. Command body: {"device","nonce" (decimal string),"command","args"};
 * response body: {"device","request" (the command's digest hex),"nonce","ok", "result"|"error","refusal"}.
 * Pure: used by the device and by sphinx-ctl alike.
 */
import { sha256 } from '../crypto/hashes.js';
import { concat, fromHex, toHex, utf8 } from '../bytes.js';
import type { Curve } from '../crypto/curve.js';

export const CONTROL_VERSION = 1;
const COMMAND_TAG = 'sphinx-control/v1 command';
const RESPONSE_TAG = 'sphinx-control/v1 response';

export type SignedKind = 'command' | 'response';

export const signedDigest = (kind: SignedKind, body: string): Uint8Array =>
  sha256(concat(utf8(kind === 'command' ? COMMAND_TAG : RESPONSE_TAG), Uint8Array.of(0), utf8(body)));

/**
 * The digest an answer names its command by: of the signed body when the payload has one
 * (also when its signature fails: the sender learns why), else of the whole payload.
 */
export function commandDigestOf(payload: Uint8Array): Uint8Array {
  try {
    const body = (JSON.parse(new TextDecoder().decode(payload)) as { body?: unknown }).body;
    if (typeof body === 'string') return signedDigest('command', body);
  } catch {
    // not JSON: the payload's own digest
  }
  return sha256(payload);
}

/** Why a control message was not accepted (the device's log, the response and sphinx-ctl show it). */
export type Refusal = 'malformed' | 'wrong-key' | 'forged' | 'replayed' | 'stale' | 'other-device' | 'no-owner' | 'invalid';

export class ControlError extends Error {
  override readonly name = 'ControlError';
  constructor(
    readonly refusal: Refusal,
    message: string,
  ) {
    super(message);
  }
}

/** The wire form of `body` signed by `priv`. */
export function signMessage(curve: Curve, priv: Uint8Array, kind: SignedKind, body: string): Uint8Array {
  const sig = curve.sign(signedDigest(kind, body), priv);
  return utf8(JSON.stringify({ v: CONTROL_VERSION, key: toHex(curve.publicKey(priv)), body, sig: toHex(sig) }));
}

export interface OpenedMessage {
  readonly key: string;
  readonly body: string;
  /** The signed digest: a response names its command by it. */
  readonly digest: Uint8Array;
}

/**
 * Checks a signed message: well-formed (else `malformed`), signed by `expectedKey` (else
 * `wrong-key`), with a valid signature (else `forged`). Throws ControlError.
 */
export function openMessage(curve: Curve, payload: Uint8Array, kind: SignedKind, expectedKey: string): OpenedMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (e) {
    throw new ControlError('malformed', `not JSON: ${(e as Error).message}`);
  }
  const m = parsed as { v?: unknown; key?: unknown; body?: unknown; sig?: unknown };
  if (typeof m !== 'object' || m === null || m.v !== CONTROL_VERSION) throw new ControlError('malformed', `expected {"v":${CONTROL_VERSION},"key","body","sig"}`);
  if (typeof m.key !== 'string' || !/^0[23][0-9a-f]{64}$/.test(m.key)) throw new ControlError('malformed', 'key: expected a compressed public key in hex');
  if (typeof m.body !== 'string') throw new ControlError('malformed', 'body: expected the signed JSON text');
  if (typeof m.sig !== 'string' || !/^[0-9a-f]{128}$/.test(m.sig)) throw new ControlError('malformed', 'sig: expected a 64-byte compact signature in hex');
  if (m.key !== expectedKey) throw new ControlError('wrong-key', `signed by ${m.key}, not by ${expectedKey}`);
  const digest = signedDigest(kind, m.body);
  if (!curve.verify(fromHex(m.sig), digest, fromHex(m.key))) throw new ControlError('forged', `the signature does not verify for ${m.key}`);
  return { key: m.key, body: m.body, digest };
}

/** A JSON object out of a signed body, or ControlError('malformed'). */
export function bodyObject(body: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    throw new ControlError('malformed', `body is not JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ControlError('malformed', 'body: expected a JSON object');
  return parsed as Record<string, unknown>;
}

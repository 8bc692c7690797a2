/**
 * MQTT topics between the broker and a signing device (docs/remote-protocol.md). Everything for one
 * device lives under `sphinx/v1/<deviceId>/`, deviceId being the hex of the device's
 * public key (its node id); the broker's ACL lets a device touch only its own subtree.
 */

export const TOPIC_ROOT = 'sphinx/v1';

/** The suffixes, and who publishes each. */
/** The device's retained `status` payloads (UTF-8): "online" once it said hello, "offline" its will or clean stop. */
export const DEVICE_STATUS = { online: 'online', offline: 'offline' } as const;

export const TOPIC_SUFFIXES = {
  /** broker → device: request envelopes (envelope-codec.ts). */
  req: 'req',
  /** device → broker: reply envelopes. */
  res: 'res',
  /** device → broker: "I am here and ready", with the last journaled id. */
  hello: 'hello',
  /** broker → device: "say hello again": the broker started while the device was already connected. */
  helloRequest: 'hello-request',
  /** device → broker, retained: "online" / "offline" (the device's last will). */
  status: 'status',
  /** broker → device: control commands. */
  control: 'control',
  /** device → broker: answers to control commands. */
  controlRes: 'control-res',
  /** device → broker: journal records mirrored for restore and audit (docs/journal.md "Mirror"). */
  journal: 'journal',
  /** broker → device: chain updates (signer/chain/updates.ts). */
  chain: 'chain',
  /** device → broker: the device's chain view (signer/chain/status.ts), after each chain message and on connect. */
  chainState: 'chain-state',
  /** broker → device: how far the mirror is durably stored. */
  journalAck: 'journal-ack',
  /** device → broker: "send me my mirror" (sphinx-signer --restore). */
  journalFetch: 'journal-fetch',
  /** broker → device: the mirror, in chunks, the last one marked final. */
  journalDump: 'journal-dump',
  /** broker → device: bytes to echo at once on `warmed`, read by neither side: the remote path's warm start (broker/remote/warm-path.ts). */
  warm: 'warm',
  /** device → broker: the echo of a `warm` message. */
  warmed: 'warmed',
  /** broker → device: its hello was refused, its journal being behind what was answered (refusal.ts); devices may not publish it. */
  refused: 'refused',
} as const;

export type TopicSuffix = (typeof TOPIC_SUFFIXES)[keyof typeof TOPIC_SUFFIXES];

export const topic = (deviceId: string, suffix: TopicSuffix): string => `${TOPIC_ROOT}/${deviceId}/${suffix}`;

const SUFFIXES: ReadonlySet<string> = new Set(Object.values(TOPIC_SUFFIXES));
const ROOT_PREFIX = `${TOPIC_ROOT}/`;

/** The device id and suffix of a topic under the root, or undefined for anything else. */
export function parseTopic(name: string): { deviceId: string; suffix: TopicSuffix } | undefined {
  // Every MQTT message in either direction is parsed here, in the broker and the device: no array or string is built for it but the two results.
  if (!name.startsWith(ROOT_PREFIX)) return undefined;
  const idEnd = name.indexOf('/', ROOT_PREFIX.length);
  if (idEnd < 0 || name.indexOf('/', idEnd + 1) >= 0) return undefined;
  const suffix = name.slice(idEnd + 1);
  if (!SUFFIXES.has(suffix)) return undefined;
  return { deviceId: name.slice(ROOT_PREFIX.length, idEnd), suffix: suffix as TopicSuffix };
}

/** True if `filter` (a topic or a subscription filter) stays inside the device's subtree. */
export function withinDevice(deviceId: string, filter: string): boolean {
  const prefix = `${TOPIC_ROOT}/${deviceId}/`;
  // No wildcard may reach above the device's subtree (e.g. "sphinx/v1/#" or "sphinx/+/x/req").
  return filter.startsWith(prefix) && !filter.slice(0, prefix.length).includes('+') && !filter.slice(0, prefix.length).includes('#');
}

/**
 * The ESP32 build's memory settings (docs/device-memory.md), in one place for
 * firmware/moddable/main.ts and the memory bench that weighs them.
 */

/**
 * The key ring's caches (signer/keys/node-keys.ts): a few entries, so a burst of requests for
 * the same channel or wallet key does not derive it again each time; the rest is recomputed.
 */
export const DEVICE_KEY_CACHES = { walletKeys: 4, bip86Keys: 4, channels: 2 } as const;

/**
 * The bound on the journal mirror's outbox (mirror-outbox.ts): the entries the broker has not
 * acknowledged, weighed as under XS. Past it a snapshot stands in for them.
 */
export const DEVICE_MIRROR_OUTBOX_BYTES = 32 * 1024;

/**
 * Records between snapshots (SignerCoreOptions.snapshotEvery; Node keeps the core's 1,000):
 * at boot the records since the last snapshot are read back and each becomes a mirror entry
 * before the outbox's bound can act, so this bounds the boot's peak (docs/device-memory.md "Memory").
 */
export const DEVICE_SNAPSHOT_EVERY = 64;

/**
 * The budget for the signer's live heap after init and a channel under XS (ESP32-C3 class),
 * checked by test/device-xs.test.ts and printed by the memory bench.
 */
export const DEVICE_HEAP_BUDGET = 160 * 1024;

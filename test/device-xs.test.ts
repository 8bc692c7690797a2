/**
 * The XS lane (docs/device-memory.md, "Under XS"): when SPHINX_XST names an XS engine (the
 * Moddable SDK's xst), every recorded session is replayed through the device's module graph
 * under XS with the ESP32's settings, and every reply must equal the recording byte for byte;
 * session-basic-l1 (init and one channel) must leave the signer's live heap within the
 * device's budget. Without an engine these tests do not apply and say so.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { DEVICE_HEAP_BUDGET } from '../firmware/app/device-memory.js';
import { repoRoot } from './fixtures.js';
import { deviceReplay, ESP32_SETTINGS, heapBytes, NO_XST, replayUnderXs, xsEngine, xstPath } from './xs-engine.js';

const path = xstPath();
const DEVICE_SLOT_BYTES = 16;

for (const name of ['hsmd-basic-legacy.jsonl', 'hsmd-basic-mnemonic.jsonl', 'session-basic-l1.jsonl', 'session-basic-l2.jsonl']) {
  test(`${name} replays byte for byte under XS with the ESP32's settings`, { skip: path ? false : NO_XST, timeout: 300_000 }, async (t) => {
    const engine = await xsEngine(path!);
    const xs = await replayUnderXs(engine, deviceReplay(name, ESP32_SETTINGS));
    assert.deepEqual(xs.mismatches, [], `${engine.version}: replies that differ from the recording`);
    const bytes = heapBytes(xs.signer);
    t.diagnostic(`${engine.version}: the signer's live heap ${(bytes / 1024).toFixed(1)} KiB (chunks ${xs.signer.chunks}, slots ${xs.signer.slots})`);
    if (name !== 'session-basic-l1.jsonl') return;
    // The budget is in the device's units: with 32-byte slots (a 64-bit engine) the figure is not the ESP32's.
    assert.equal(engine.slotBytes, DEVICE_SLOT_BYTES, `${engine.path} has ${engine.slotBytes}-byte slots; the budget is for a 32-bit engine as on the ESP32 (docs/device-memory.md)`);
    assert.ok(bytes <= DEVICE_HEAP_BUDGET, `the signer's live heap after init and one channel is ${bytes} bytes, over the device's ${DEVICE_HEAP_BUDGET}`);
    // The figure docs/device-memory.md gives is this one (XS's are the same on every run).
    const kib = (n: number) => (n / 1024).toFixed(1);
    const doc = readFileSync(join(repoRoot, 'docs', 'device-memory.md'), 'utf8');
    assert.ok(doc.includes(`| ESP32 | **${kib(bytes)} KiB** (chunks ${kib(xs.signer.chunks)}, slots ${kib(xs.signer.slots)}) |`), `docs/device-memory.md gives ${kib(bytes)} KiB (chunks ${kib(xs.signer.chunks)}, slots ${kib(xs.signer.slots)})`);
    assert.ok(doc.includes(`**${kib(bytes)} KiB of 160 KiB**`));
  });
}

/**
 * The status page's banner (status-panel.ts attentionOf), state by state: red with the device
 * command when no device is connected, amber once a request has waited past WAIT_WARN_MS,
 * green otherwise; a local signer has no device to be missing.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { attentionOf, WAIT_WARN_MS } from './status-panel.js';

const COMMAND = 'sphinx-signer --mqtt mqtt://127.0.0.1:1883 --data DIR --broker-id abc';
const base = { mode: 'remote' as const, connected: 1, activeDevice: '02aa', outstanding: 0, waitingMs: 0, deviceCommand: COMMAND };

test('banner: red with the command when no device is connected, whether or not requests wait', () => {
  const idle = attentionOf({ ...base, connected: 0, activeDevice: undefined });
  assert.deepEqual(idle, { level: 'bad', text: "No signing device is connected: lightningd's next request will wait until one is. Start it:", command: COMMAND });
  const waiting = attentionOf({ ...base, connected: 0, outstanding: 3, waitingMs: 10 });
  assert.equal(waiting.level, 'bad');
  assert.match(waiting.text, /: 3 requests from lightningd wait until one is\./);
});

test('banner: amber with the command once a request has waited longer than WAIT_WARN_MS; green before', () => {
  assert.equal(attentionOf({ ...base, outstanding: 1, waitingMs: WAIT_WARN_MS }).level, 'ok', 'a request in hand is normal');
  const slow = attentionOf({ ...base, outstanding: 2, waitingMs: WAIT_WARN_MS + 1500 });
  assert.deepEqual(slow, { level: 'warn', text: `2 requests from lightningd waiting, the oldest for ${(WAIT_WARN_MS + 1500).toLocaleString('en-US')} ms, on device 02aa. Look at its log; if it is stuck, restart it:`, command: COMMAND });
  assert.deepEqual(attentionOf(base), { level: 'ok', text: 'Signing: device 02aa connected.', command: '' });
});

test('banner, local signer: no device to miss; amber on a long wait, without a device command', () => {
  const local = { ...base, mode: 'local' as const, connected: null, activeDevice: undefined, deviceCommand: '' };
  assert.deepEqual(attentionOf(local), { level: 'ok', text: 'Signing in this process (SPHINX_SIGNER=local).', command: '' });
  const slow = attentionOf({ ...local, outstanding: 1, waitingMs: WAIT_WARN_MS + 1 });
  assert.equal(slow.level, 'warn');
  assert.equal(slow.command, '');
  assert.match(slow.text, /on the in-process signer\. Look at lightningd's log/);
});

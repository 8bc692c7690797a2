/** A command's nonce: a decimal u64 from 1, one spelling each (docs/remote-protocol.md "Control"). */
import assert from 'node:assert/strict';
import test from 'node:test';
import { parseCommand } from './commands.js';
import { ControlError } from './wire.js';

const body = (nonce: unknown) => JSON.stringify({ device: '02' + 'ab'.repeat(32), nonce, command: 'status', args: {} });

test('a nonce is a decimal string from 1 to 2^64-1 without leading zeros; anything else is malformed', () => {
  assert.equal(parseCommand(body('1')).nonce, 1n);
  assert.equal(parseCommand(body('18446744073709551615')).nonce, 2n ** 64n - 1n);
  for (const nonce of ['0', '01', '-1', '1e3', '18446744073709551616', '', 7, null]) {
    assert.throws(() => parseCommand(body(nonce)), (e: unknown) =>
      e instanceof ControlError && e.message.includes('nonce: expected a decimal string 1..2^64-1'), `nonce ${JSON.stringify(nonce)}`);
  }
});

/**
 * Loaded into bin/sphinx-hsmd by test/broker-reconcile.test.ts (NODE_OPTIONS=--import): holds
 * the broker log's append of the RequestReceived whose hsmd message is HOLD_REQUEST_RECORD_OF
 * (hex), and of every record after it, in order, for HOLD_REQUEST_RECORD_MS. The broker
 * publishes a request within UNLOGGED_IDS of a durable record before its own is durable
 * (docs/remote-protocol.md "Requests"); this makes that window as long as the test needs, so a
 * kill lands in it every time. Test-only, from outside: the product has no such switch.
 */
import { writeSync } from 'node:fs';
import { BrokerLog } from '../log/broker-log/broker-log.js';
import { toHex } from '../signer/bytes.js';

const hex = process.env['HOLD_REQUEST_RECORD_OF'];
const ms = Number(process.env['HOLD_REQUEST_RECORD_MS'] ?? 10_000);
const append = BrokerLog.prototype.append;
let held: Promise<void> | undefined;

BrokerLog.prototype.append = function heldAppend(this: BrokerLog, ...args: Parameters<BrokerLog['append']>): Promise<bigint> {
  const [record] = args;
  if (held === undefined && record.kind === 'request-received' && toHex(record.message) === hex) {
    writeSync(2, `hold-request-record: holding request ${record.id}'s record and every later one for ${ms} ms\n`);
    held = new Promise((resolve) => setTimeout(resolve, ms));
  }
  // Each waits on the same promise: their appends then run in the order they were asked for.
  return held === undefined ? append.apply(this, args) : held.then(() => append.apply(this, args));
};

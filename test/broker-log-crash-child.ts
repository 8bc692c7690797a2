/**
 * The child process of test/broker-log-crash.test.ts: opens the broker log at argv[2], prints `ready <end>`,
 * then appends records from 32 concurrent writers forever, printing `<seq> <id>` for each
 * append as soon as it resolved (acknowledged = durable). The parent kills it with SIGKILL.
 * Lines go out with writeSync on fd 1, so an acknowledgement printed is in the pipe before the
 * next instruction can be killed.
 */
import { writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { BrokerLog } from '../log/broker-log/broker-log.js';
import type { RequestReceived } from '../log/broker-log/record.js';

const WRITERS = 32;

/** The record a writer appends for request `id`: sizes and contents vary with id, so a mix-up shows. */
export function crashRecord(id: bigint): RequestReceived {
  const n = Number(id & 0xffffffffn);
  const length = 2 + ((n * 7919) % 1500);
  const message = new Uint8Array(length);
  for (let i = 0; i < length; i++) message[i] = (n + i * 31) & 0xff;
  return {
    kind: 'request-received',
    id,
    client: { peer: new Uint8Array(33).fill(Number(id >> 32n) & 0xff), dbid: BigInt(n % 7), permissions: 0x403n },
    type: (message[0]! << 8) | message[1]!,
    message,
    at: 1_700_000_000_000 + n,
  };
}

async function main(dir: string, run: number): Promise<never> {
  const log = await BrokerLog.open(dir);
  writeSync(1, `ready ${log.end}\n`);
  let next = 0;
  const writer = async (): Promise<never> => {
    for (;;) {
      const id = (BigInt(run) << 32n) | BigInt(next++);
      const seq = await log.append(crashRecord(id));
      writeSync(1, `${seq} ${id}\n`);
    }
  };
  return Promise.any(Array.from({ length: WRITERS }, writer));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv[2]!, Number(process.argv[3]));
}

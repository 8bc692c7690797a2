/**
 * A signing device for the remote-path tests and the bench, run as its own process (the
 * simulated lightningd blocks its event loop on synchronous sockets):
 *   node dist/test/remote-device.js --url mqtt://127.0.0.1:PORT --data DIR --broker-id-file FILE
 *        [--crash-at N] [--crash-after-journal] [--supervise] [--ca FILE]
 * DIR holds hsm_secret and the journal; the key (node key from hsm_secret) is the MQTT
 * username and signs the token over the broker id (read from FILE once it exists). It
 * follows docs/remote-protocol.md (remote-device-core.ts).
 * --crash-at N: SIGKILL itself when the Nth request arrives (before deciding it; with
 * --crash-after-journal, after journaling it but before replying). --supervise: run the
 * device as a child and start it again (without the crash) when it dies.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startTestDevice } from './remote-device-core.js';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    data: { type: 'string' },
    'broker-id-file': { type: 'string' },
    'crash-at': { type: 'string' },
    'crash-after-journal': { type: 'boolean', default: false },
    supervise: { type: 'boolean', default: false },
    ca: { type: 'string' },
  },
});
const say = (line: string): void => void process.stdout.write(`device[${process.pid}]: ${line}\n`);

if (args.supervise) supervise();
else await runDevice();

/** Runs the device as a child; when it dies, runs it again without the crash options. */
function supervise(): void {
  const argv = process.argv.slice(2).filter((a) => a !== '--supervise');
  let stopping = false;
  let current: ReturnType<typeof spawn> | undefined;
  process.on('SIGTERM', () => {
    stopping = true;
    current?.kill('SIGTERM');
  });
  const start = (withCrash: boolean): void => {
    const childArgs = withCrash ? argv : argv.filter((a, i) => !a.startsWith('--crash') && !argv[i - 1]?.startsWith('--crash-at'));
    const child = (current = spawn(process.execPath, [process.argv[1]!, ...childArgs], { stdio: 'inherit' }));
    child.on('exit', (code, signal) => {
      if (stopping) return;
      say(`supervisor: device exited (${signal ?? code}); starting it again`);
      setTimeout(() => start(false), 200);
    });
  };
  start(true);
}

async function runDevice(): Promise<void> {
  const brokerIdFile = args['broker-id-file']!;
  while (!existsSync(brokerIdFile)) await new Promise((r) => setTimeout(r, 50));
  const crashAt = args['crash-at'] === undefined ? undefined : Number(args['crash-at']);
  let received = 0;
  const device = startTestDevice({
    url: args.url!,
    dataDir: args.data!,
    brokerId: readFileSync(brokerIdFile, 'utf8').trim(),
    ca: args.ca === undefined ? undefined : readFileSync(args.ca),
    say,
    onRequest: (env, stage) => {
      if (stage === 'before') received++;
      if (received !== crashAt || (stage === 'journaled') !== args['crash-after-journal']) return;
      say(`crashing (SIGKILL) at request ${received} (id ${env.id}), ${stage === 'before' ? 'before deciding it' : 'journaled, unanswered'}`);
      process.kill(process.pid, 'SIGKILL');
    },
  });
  process.on('SIGTERM', () => void device.stop().then(() => process.exit(0)));
}

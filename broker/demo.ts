/**
 * `npm start`: a scripted lightningd session through bin/sphinx-hsmd on embedded defaults.
 *
 * The script is a real one: requests lightningd and its subdaemons sent to CLN v25.12.1's
 * own hsmd (test/fixtures/transcripts), replayed by the simulated lightningd exactly as
 * lightningd would (fd 0 status, fd 3 master, client fds over SCM_RIGHTS), each reply
 * compared with the one CLN's hsmd gave. Prints progress, then what was asked, how fast
 * it was answered, and whether every reply matched.
 */
import { loadTranscript, type Exchange } from '../test/transcript.js';
import { fixturePath } from '../test/fixtures.js';
import { SimLightningd } from '../test/sim-lightningd.js';
import { messageNameOf } from '../signer/wire/messages.js';

/** The scripted sessions, in order: node start-up and node-level requests, then a full node. */
const SESSIONS = ['hsmd-basic-legacy.jsonl', 'hsmd-basic-mnemonic.jsonl', 'session-basic-l1.jsonl'];

interface TypeStats {
  count: number;
  matched: number;
  micros: number[];
}

const typeName = (ex: Exchange): string => {
  const type = parseInt(ex.req.slice(0, 4), 16);
  return (messageNameOf(type) ?? `type ${type}`).replace(/^hsmd_/, '');
};

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const progress = (text: string): void => {
  if (process.stdout.isTTY) process.stdout.write(`\r${text}\x1b[K`);
};

async function runSession(name: string, stats: Map<string, TypeStats>): Promise<{ failed: number; total: number }> {
  const path = fixturePath(`transcripts/${name}`);
  const { header, exchanges } = loadTranscript(path);
  console.log(`\n▶ ${name}: ${exchanges.length} requests recorded from CLN ${header.cln_version}'s hsmd`);
  const ld = await SimLightningd.start({
    hsmSecret: Uint8Array.from(Buffer.from(header.hsm_secret, 'hex')),
    args: header.hsmd_args,
    env: { SPHINX_SIGNER: 'local', SPHINX_CLN_VERSION: header.cln_version },
  });
  let done = 0;
  try {
    const result = ld.replay(path, (ex, matched, micros) => {
      const entry = stats.get(typeName(ex)) ?? { count: 0, matched: 0, micros: [] };
      entry.count++;
      if (matched) entry.matched++;
      entry.micros.push(micros);
      stats.set(typeName(ex), entry);
      progress(`  ${++done}/${exchanges.length} ${typeName(ex)}`);
    });
    progress('');
    const exit = await ld.stop();
    console.log(
      `  ${result.passed}/${exchanges.length} replies byte-identical to CLN's; hsmd exited ${exit.code} when the master closed (CLN: 2)`,
    );
    for (const m of result.mismatches.slice(0, 3))
      console.log(`  ✗ seq ${m.seq} (${m.conn}, type ${m.type}): got ${m.got.slice(0, 80)}`);
    return { failed: result.failed, total: exchanges.length };
  } finally {
    ld.cleanup();
  }
}

async function main(): Promise<void> {
  console.log('sphinx-hsmd, local signer (SPHINX_SIGNER=local), driven by a simulated lightningd');
  const stats = new Map<string, TypeStats>();
  let failed = 0;
  let total = 0;
  for (const name of SESSIONS) {
    const r = await runSession(name, stats);
    failed += r.failed;
    total += r.total;
  }
  console.log('\nrequests by type                        count  identical   p50 µs   p99 µs');
  for (const [name, s] of [...stats].sort((a, b) => b[1].count - a[1].count)) {
    const sorted = [...s.micros].sort((a, b) => a - b);
    console.log(
      `  ${name.padEnd(36)} ${String(s.count).padStart(6)} ${String(s.matched).padStart(10)} ${percentile(sorted, 50)
        .toFixed(0)
        .padStart(8)} ${percentile(sorted, 99).toFixed(0).padStart(8)}`,
    );
  }
  console.log(`\n${total - failed}/${total} replies byte-identical to Core Lightning's own hsmd.`);
  if (failed > 0) {
    console.log('Replies that differ are requests this signer does not sign yet (channel signing: see `issues`).');
    process.exitCode = 1;
  }
}

await main();

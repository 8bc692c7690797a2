/**
 * The local hsmd's warm start through its serving code (warm-serving.ts):
 * - a pass sends every request of the recorded session over socketpairs, through the Router
 *   and the group commit, into the throwaway core (which journals each), and leaves no socket
 *   open behind it;
 * - a client's request the Router refuses closes that client only, and the pass goes on; a
 *   request that is fatal on the master ends it with the Router's reason;
 * - a real bin/sphinx-hsmd with the local signer says in lightningd's log that it ran the
 *   session's requests SERVING_WARM_UP_PASSES times before answering init.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { SignerCore } from '../core/signer-core.js';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { MemoryDir } from '../log/memory-file.js';
import { openJournalFiles } from '../log/journal/journal.js';
import { fastCurve } from '../node/curve-native.js';
import { recordedEnvelopes, SERVING_WARM_UP_PASSES, warmStartThrough } from '../node/warm-up.js';
import { DEFAULT_POLICY, type PolicyConfig } from '../signer/policy/policy.js';
import { fromHex } from '../signer/bytes.js';
import { Signer } from '../signer/signer.js';
import { fixturePath, repoRoot } from '../test/fixtures.js';
import { loadTranscript } from '../test/transcript.js';
import { policyOf } from './config.js';
import { groupCommitting } from './local-signer.js';
import { RequestIds } from './request-ids.js';
import { servingPass } from './warm-serving.js';

const secret = fromHex((JSON.parse(readFileSync(`${repoRoot}/node/warm-up-session.json`, 'utf8')) as { hsm_secret: string }).hsm_secret);
// By default the local hsmd's policy, which the recording meets (node/warm-up.test.ts).
const freshCore = (policy: PolicyConfig = policyOf({})): SignerCore =>
  SignerCore.open(openJournalFiles(new MemoryDir()), (state) => new Signer({ curve: fastCurve(), developer: false, policy, readHsmSecret: () => secret }, state), { syncReadOnly: false }).core;
const pass = servingPass((core) => groupCommitting(core, new RequestIds(0n), () => {}));
const sockets = (): number => process.getActiveResourcesInfo().filter((r) => r === 'PipeWrap').length;
/** The open sockets once those destroyed have closed (libuv closes a handle a loop turn or so later). */
async function socketsSettled(expected: number): Promise<number> {
  for (let waited = 0; sockets() !== expected && waited < 1000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
  return sockets();
}

test('a pass answers every recorded request through the serving path, each journaled by the core, and closes its sockets', async () => {
  const envelopes = recordedEnvelopes();
  const before = sockets();
  const core = freshCore();
  assert.equal(await pass(core, envelopes), envelopes.length);
  assert.equal(core.lastId, BigInt(envelopes.length), 'every request went through the group commit into the core');
  assert.equal(await socketsSettled(before), before);
});

test("a client request the Router refuses closes that client only: the pass goes on, the client's next request on a new connection", async () => {
  const envelopes = recordedEnvelopes();
  const client = envelopes.findIndex((e) => e.client.dbid !== 0n);
  const refused = { ...envelopes[client]!, client: { ...envelopes[client]!.client, permissions: 0n } };
  const core = freshCore();
  const before = sockets();
  // The refused request never reaches the core; the same request again, as its client, does.
  assert.equal(await pass(core, [...envelopes.slice(0, client), refused, envelopes[client]!]), client + 2);
  assert.equal(core.lastId, BigInt(client + 1));
  assert.equal(await socketsSettled(before), before);
});

test("a request that is fatal on the master ends the pass with the Router's reason", async () => {
  const envelopes = recordedEnvelopes();
  const truncated = { ...envelopes[1]!, message: envelopes[1]!.message.subarray(0, 3) };
  assert.equal(truncated.client.dbid, 0n);
  await assert.rejects(pass(freshCore(), [envelopes[0]!, truncated]), /^Error: Error parsing \d+: [0-9a-f]{6}$/);
});

test("warmStartThrough runs every pass whole under a policy that refuses the recording's withdrawal: its rules only warn there", async () => {
  const envelopes = recordedEnvelopes();
  const withdrawal = envelopes.findIndex((e) => e.message[1] === 7 && e.message[0] === 0); // hsmd_sign_withdrawal
  // The device's default policy refuses it on its own (its destination is on no allowlist)...
  await assert.rejects(
    pass(freshCore(DEFAULT_POLICY), envelopes),
    /^Error: Error parsing 7: /,
  );
  assert.ok(withdrawal > 0);
  // ...and the warm start, given it, still runs every request of every pass.
  const lines: string[] = [];
  await warmStartThrough({ curve: fastCurve(), developer: false, policy: DEFAULT_POLICY }, (line) => lines.push(line), pass);
  assert.match(lines.join('\n'), new RegExp(`^warm start: ran ${envelopes.length * SERVING_WARM_UP_PASSES} recorded requests`));
});

test('bin/sphinx-hsmd, local signer: its warm start went through the serving path before init was answered, and left no file behind', async () => {
  const { header, exchanges } = loadTranscript(fixturePath('transcripts/hsmd-basic-legacy.jsonl'));
  // The throwaway cores journal in the system's temporary directory: this test's own.
  const tmp = mkdtempSync(join(tmpdir(), 'warm-serving-test-'));
  const ld = await SimLightningd.start({ hsmSecret: Buffer.from(header.hsm_secret, 'hex'), args: header.hsmd_args, env: { SPHINX_SIGNER: 'local', SPHINX_CLN_VERSION: header.cln_version, TMPDIR: tmp } });
  try {
    assert.equal(Buffer.from(ld.master.request(exchanges[0]!.req)).toString('hex'), exchanges[0]!.rep);
    const line = await ld.waitForStatus((m) => m.kind === 'log' && m.entry.startsWith('warm start: '));
    const count = recordedEnvelopes().length * SERVING_WARM_UP_PASSES;
    assert.ok(line.kind === 'log' && new RegExp(`^warm start: ran ${count} recorded requests with a test seed \\(not this node's; nothing kept\\) in \\d+ ms`).test(line.entry), JSON.stringify(line));
    assert.deepEqual(readdirSync(tmp), [], 'the warm start removed its temporary directories once done');
    await ld.stop();
  } finally {
    ld.cleanup();
    rmSync(tmp, { recursive: true, force: true });
  }
});

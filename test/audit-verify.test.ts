/**
 * sphinx-audit on session-basic-l1: a real broker log (LevelDB) and a
 * real device journal (SignerCore through NodeDir), built by test/audit-session.ts, then
 * tampered with as an attacker would: one byte of a logged reply, one byte of a journal record
 * (breaking its CRC), a journal record rewritten with a valid CRC and another reply, one record
 * dropped from each. Each must be caught by `verify` (exit 1 for a mismatch, 3 for a damaged
 * input) and named: broker-log seq,
 * request id, message type, journal byte offset. Plus summary, channel, state, --json,
 * --help and the progress bar; --policy (the replay's starting policy) and exit 4 (an internal
 * error, a fault injected from outside the bin by test/audit-fault.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'node:test';
import { runAudit } from '../audit/cli.js';
import type { MirrorFinding } from '../audit/mirror-check.js';
import { concat } from '../signer/bytes.js';
import { decodeRecord as decodeJournalRecord, encodeRecord as encodeJournalRecord, encodeSourced } from '../log/journal/record.js';
import { repoRoot } from './fixtures.js';
import { RECORDED_SESSIONS_POLICY_FILE } from './session-records.js';
import { buildSession, deleteRecord, encodeFrame, journalFrames, logRecords, putRecord, rewriteJournal, type SessionDirs } from './audit-session.js';

async function audit(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAudit(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { isTTY: false, write: (s: string) => (err += s) },
    env,
  });
  return { code, out, err };
}

async function withSession(f: (s: SessionDirs) => Promise<void>): Promise<void> {
  const s = await buildSession();
  try {
    await f(s);
  } finally {
    rmSync(s.root, { recursive: true, force: true });
  }
}

const verifyArgs = (s: SessionDirs, secret: boolean) =>
  ['verify', '--log', s.dataDir, '--journal', s.deviceDir, ...(secret ? ['--hsm-secret', s.secretFile] : [])];

test('a clean log and journal verify (exit 0) with the secret (every reply replayed byte for byte) and without (signatures checked)', async () => {
  await withSession(async (s) => {
    const records = await logRecords(s.dataDir);
    const replies = records.filter((r) => r.record.kind === 'reply-received').length;
    const replay = await audit([...verifyArgs(s, true), '--json']);
    assert.equal(replay.code, 0, replay.out + replay.err);
    const r = JSON.parse(replay.out);
    assert.equal(r.ok, true);
    assert.equal(r.mode, 'replay');
    assert.equal(r.verified, replies, 'every logged reply identical to the replayed one');
    assert.equal(r.journal.matched, replies, 'every logged reply is its journal record');

    const sigs = await audit([...verifyArgs(s, false), '--json']);
    assert.equal(sigs.code, 0, sigs.out + sigs.err);
    const v = JSON.parse(sigs.out);
    assert.equal(v.mode, 'signatures');
    // The session's signatures (the recording's own names): each checked and good.
    for (const type of ['hsmd_sign_remote_commitment_tx', 'hsmd_sign_remote_htlc_tx', 'hsmd_sign_invoice', 'hsmd_sign_message',
      'hsmd_sign_any_cannouncement_req', 'hsmd_cupdate_sig_req', 'hsmd_node_announcement_sig_req', 'hsmd_sign_commitment_tx',
      'hsmd_sign_mutual_close_tx', 'hsmd_validate_commitment_tx', 'hsmd_revoke_commitment_tx']) {
      assert.ok(v.byType[type].ok > 0 && v.byType[type].bad === 0 && v.byType[type].unchecked === 0, `${type}: ${JSON.stringify(v.byType[type])}`);
    }
    assert.ok(v.byType['hsmd_ecdh_req'].unchecked > 0 && /needs the secret/.test(v.byType['hsmd_ecdh_req'].how[0]), 'ECDH is reported as needing the secret');
    const text = await audit(verifyArgs(s, false));
    assert.match(text.out, /OK: no mismatch/);
  });
});

test('one byte of a logged reply changed: caught and named (seq, id, type) with and without the secret', async () => {
  await withSession(async (s) => {
    const records = await logRecords(s.dataDir);
    const requestOf = new Map(records.flatMap((r) => (r.record.kind === 'request-received' ? [[r.record.id, r.record.type]] : [])));
    // The first reply to sign_remote_commitment_tx (type 19): flip a byte of its signature.
    const target = records.find((r) => r.record.kind === 'reply-received' && requestOf.get(r.record.id) === 19)!;
    const rec = target.record as Extract<typeof target.record, { kind: 'reply-received' }>;
    assert.equal(rec.reply.kind, 'frame');
    const frame = (rec.reply as { frame: Uint8Array }).frame.slice();
    frame[10]! ^= 0x01;
    await putRecord(s.dataDir, target.seq, { ...rec, reply: { kind: 'frame', frame } });
    const named = new RegExp(`seq ${target.seq}, id ${rec.id}, hsmd_sign_remote_commitment_tx`);
    for (const secret of [true, false]) {
      const { code, out } = await audit(verifyArgs(s, secret));
      assert.equal(code, 1, out);
      assert.match(out, named);
      assert.match(out, secret ? /differs from the signer's replayed reply: frames differ from byte 10/ : /signature does not verify/);
      assert.match(out, /journal record's reply differs from the logged reply/, 'and the journal disagrees');
    }
  });
});

test('one byte of a journal record changed (its CRC breaks): named by byte offset; a record rewritten with a valid CRC: caught by the cross-check', async () => {
  await withSession(async (s) => {
    const frames = journalFrames(s.deviceDir);
    const victim = frames[40]!;
    const id = decodeJournalRecord(victim.payload).id;
    rewriteJournal(s.deviceDir, (b) => {
      b[victim.offset + 8 + 20]! ^= 0x01; // inside the request digest
      return b;
    });
    const flipped = await audit(verifyArgs(s, false));
    assert.equal(flipped.code, 3, 'a damaged input, not a mismatch');
    assert.match(flipped.err, new RegExp(`damaged input: the journal .*journal has a corrupt frame at byte offset ${victim.offset}`));
    assert.match(flipped.out, new RegExp(`id ${id}, journal offset ${victim.offset}: journal .* corrupt frame .*CRC-32C`));
    assert.match(flipped.out, new RegExp(`id ${id}, .*journal offset ${victim.offset}: the journal record of this reply is damaged`));
    // The device itself refuses this journal; `state` says so, naming the offset.
    const st = await audit(['state', '--journal', s.deviceDir]);
    assert.equal(st.code, 3);
    assert.match(st.err, new RegExp(`corrupt at byte offset ${victim.offset}`));
  });
  await withSession(async (s) => {
    const frames = journalFrames(s.deviceDir);
    // A signed reply (hsmd_sign_tx_reply, type 112) rewritten: same length, valid CRC, other signature.
    const victim = frames.find((f) => {
      const r = decodeJournalRecord(f.payload).reply;
      return r.kind === 'frame' && r.frame[0] === 0 && r.frame[1] === 112;
    })!;
    const record = decodeJournalRecord(victim.payload);
    const frame = (record.reply as { frame: Uint8Array }).frame.slice();
    frame[5]! ^= 0x01;
    const forged = encodeFrame(encodeJournalRecord({ ...record, reply: { kind: 'frame', frame } }));
    rewriteJournal(s.deviceDir, (b) => {
      b.set(forged, victim.offset);
      return b;
    });
    const { code, out } = await audit(verifyArgs(s, true));
    assert.equal(code, 1, out);
    assert.match(out, new RegExp(`seq \\d+, id ${record.id}, hsmd_sign_\\w+, journal offset ${victim.offset}: journal record's reply differs from the logged reply: frames differ from byte 5`));
  });
});

test('one record dropped from the broker log, or from the journal: caught and named', async () => {
  await withSession(async (s) => {
    const records = await logRecords(s.dataDir);
    const dropped = records.find((r) => r.record.kind === 'reply-received' && r.seq > 100n)!;
    const id = (dropped.record as { id: bigint }).id;
    await deleteRecord(s.dataDir, dropped.seq);
    const { code, out, err } = await audit(verifyArgs(s, true));
    assert.equal(code, 3, 'a damaged input, not a mismatch');
    assert.match(err, new RegExp(`damaged input: the broker log .*broker-log is damaged at seq ${dropped.seq}: record ${dropped.seq} is missing`));
    assert.match(out, new RegExp(`seq ${dropped.seq}: record missing: the log never has holes`));
    assert.match(out, new RegExp(`id ${id}, hsmd_\\w+, journal offset \\d+: the device answered this request \\(journal record\\) but the broker never logged the reply`));
    const summary = await audit(['summary', '--log', s.dataDir, '--json']);
    assert.deepEqual(JSON.parse(summary.out).gaps, [{ from: String(dropped.seq), to: String(dropped.seq + 1n) }]);
  });
  await withSession(async (s) => {
    const frames = journalFrames(s.deviceDir);
    const victim = frames[30]!;
    const next = frames[31]!;
    const id = decodeJournalRecord(victim.payload).id;
    rewriteJournal(s.deviceDir, (b) => new Uint8Array([...b.subarray(0, victim.offset), ...b.subarray(next.offset)]));
    const { code, out } = await audit(verifyArgs(s, false));
    assert.equal(code, 1, out);
    assert.match(out, new RegExp(`seq \\d+, id ${id}, hsmd_\\w+: logged reply has no journal record in .*journal: the device never journaled it`));
  });
});

test('summary, channel and state: the same facts as text and --json; progress shows when forced, not otherwise', async () => {
  await withSession(async (s) => {
    const records = await logRecords(s.dataDir);
    const requests = records.filter((r) => r.record.kind === 'request-received');
    const json = JSON.parse((await audit(['summary', '--log', s.dataDir, '--json'])).out);
    assert.equal(json.requests, requests.length);
    assert.equal(json.byType.find((t: { type: string }) => t.type === 'hsmd_check_pubkey').requests, 64, 'the recording has 64 check_pubkey');
    assert.equal(json.latency.count, requests.length);
    assert.ok(json.latency.p50Micros <= json.latency.p99Micros && json.latency.p99Micros <= json.latency.maxMicros);
    assert.equal(json.byChannel.length, 1, 'the session has one channel');
    const text = (await audit(['summary', '--log', s.dataDir])).out;
    assert.match(text, /hsmd_check_pubkey\s+64/);
    assert.match(text, /latency: \d+ replies, p50/);
    assert.match(text, new RegExp(`${requests.length} requests, replies: ${requests.length} answered;`));
    assert.match(text, /hsmd_client_hsmfd requests, .* are answered by the broker itself and not logged/, 'says why lightningd counted more');
    assert.doesNotMatch(text, /µs/, 'one unit: ms');
    assert.match(text, /^ {2}0{66}\/0 .* MASTER\|ECDH\|SIGN_GOSSIP$/m, "the master's permissions by name (hsmd.c: MASTER, SIGN_GOSSIP, ECDH)");
    const histogram = text.split('\n').filter((l) => /^ +[\d.]+ ms \.\. /.test(l));
    assert.ok(histogram.length > 0 && histogram.length <= 12, `a compact histogram: ${histogram.length} rows`);
    assert.equal(histogram.reduce((n, l) => n + Number(/ (\d+) #/.exec(l)![1]), 0), requests.length, 'its rows count every reply');

    const ch = json.byChannel[0];
    const timeline = JSON.parse((await audit(['channel', `${ch.peer}/${ch.dbid}`, '--log', s.dataDir, '--journal', s.deviceDir, '--json'])).out);
    const signed = timeline.fromLog.filter((e: { kind: string }) => e.kind === 'counterparty-commitment-signed');
    assert.equal(signed.length, 17, 'the recording signs 17 remote commitments');
    assert.deepEqual(signed.map((e: { commitNum: string }) => Number(e.commitNum)), signed.map((_: unknown, i: number) => Number(signed[0].commitNum) + i), 'consecutive numbers');
    assert.ok(timeline.fromLog.some((e: { kind: string }) => e.kind === 'mutual-close-signed'));
    assert.ok(timeline.fromJournal.some((e: { kind: string }) => e.kind === 'holder-commitment-revoked'));
    const channelText = (await audit(['channel', `${ch.peer}/${ch.dbid}`, '--log', s.dataDir])).out;
    assert.doesNotMatch(channelText, /=undefined/, 'fields an entry lacks are left out');
    const unknown = await audit(['channel', `${ch.peer}/${Number(ch.dbid) + 1}`, '--log', s.dataDir]);
    assert.equal(unknown.code, 2, 'an unknown channel is an input error');
    assert.equal(unknown.out, '');
    assert.match(unknown.err, new RegExp(`no channel ${ch.peer}/${Number(ch.dbid) + 1} in the broker log .*; channels there: ${ch.peer}/${ch.dbid} \\(sphinx-audit summary lists them\\)`));

    const state = JSON.parse((await audit(['state', '--journal', join(s.deviceDir, 'journal'), '--json'])).out);
    assert.match(state.digest, /^[0-9a-f]{64}$/);
    assert.equal(state.records, requests.length);
    const channels = Object.entries(state.state.channels) as [string, { ref: { peer: string; dbid: string } }][];
    assert.ok(channels.length > 0);
    for (const [key, c] of channels) assert.equal(key, `${c.ref?.peer}/${c.ref?.dbid}`, 'channels keyed by peer/dbid (not the trie that holds them)');
    assert.deepEqual(channels.map(([key]) => key), channels.map(([key]) => key).sort(), 'in key order');
    assert.equal((await audit(['state', '--journal', s.deviceDir])).out.includes(state.digest), true, 'text shows the same digest');

    const quiet = await audit(['verify', '--log', s.dataDir]);
    assert.equal(quiet.err, '', 'no progress when stderr is not a terminal');
    const forced = await audit(['verify', '--log', s.dataDir, '--progress']);
    assert.match(forced.err, /verify \[#+\] 100\.0% \d+\/\d+ records \d+ records\/s ETA/);
    const env = await audit(['summary', '--log', s.dataDir], { SPHINX_AUDIT_PROGRESS: '1' });
    assert.match(env.err, /summary .*100\.0%/);
  });
});

test('state shows sourced records (a control command journaled on the device) folded into the state; verify still matches every reply', async () => {
  await withSession(async (s) => {
    const control = { source: 'control', seq: 1n, at: Date.UTC(2026, 0, 2), events: [{ kind: 'DevPreinitialized', failPreapprove: true, noPreapproveCheck: false, warnOnOvergrind: false }] } as const;
    rewriteJournal(s.deviceDir, (content) => concat(content, encodeFrame(encodeSourced(control))));
    const state = JSON.parse((await audit(['state', '--journal', s.deviceDir, '--json'])).out);
    assert.equal(state.sourced[0].source, 'policy-file', 'the session\'s policy, first (test/audit-session.ts)');
    assert.deepEqual(state.sourced.at(-1), { source: 'control', seq: '1', at: '2026-01-02T00:00:00.000Z', events: [{ kind: 'DevPreinitialized', failPreapprove: true, noPreapproveCheck: false, warnOnOvergrind: false }] });
    assert.equal(state.state.dev.failPreapprove, true, 'replayed after the request records');
    assert.match((await audit(['state', '--journal', s.deviceDir])).out, /and 2 sourced records[^]*control #1 at 2026-01-02T00:00:00.000Z: DevPreinitialized/);
    const verified = await audit(verifyArgs(s, true));
    assert.equal(verified.code, 0, verified.out + verified.err);
  });
});

test('clear errors with the fix, --help for the tool and each command, the bin shim', async () => {
  const missing = await audit(['verify', '--log', '/nonexistent/sphinx']);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /pass the broker's SPHINX_DATA_DIR/);
  const noLog = await audit(['summary', '--log', repoRoot]);
  assert.match(noLog.err, /no broker log at .*broker-log: pass the broker's SPHINX_DATA_DIR/);
  assert.match((await audit(['state'])).err, /state needs --journal/);
  assert.match((await audit(['channel', 'xyz', '--log', repoRoot])).err, /bad channel "xyz"/);
  const peer = `02${'ab'.repeat(32)}`;
  assert.match((await audit(['channel', `${peer}/18446744073709551616`, '--log', repoRoot])).err, /bad channel "02(ab){32}\/18446744073709551616": dbid 18446744073709551616 is above 2\^64-1: write <peer>\/<dbid>/);
  for (const cmd of ['summary', 'verify', 'channel', 'state']) {
    const h = await audit([cmd, '--help']);
    assert.equal(h.code, 0);
    assert.match(h.out, new RegExp(`^sphinx-audit ${cmd} `));
  }
  // verify's text says what it checks of the journal mirror and names every kind of finding it prints.
  const verifyHelp = (await audit(['verify', '--help'])).out;
  assert.match(verifyHelp, /journal mirror \(DIR\/mirror\)/);
  for (const problem of ['gap', 'forged', 'reordered', 'malformed', 'rollback'] satisfies MirrorFinding['problem'][]) assert.match(verifyHelp, new RegExp(`\\b${problem}\\s\\(`));
  const bin = spawnSync(process.execPath, [join(repoRoot, 'bin', 'sphinx-audit'), '--help'], { encoding: 'utf8' });
  assert.equal(bin.status, 0, bin.stderr);
  assert.match(bin.stdout, /Commands:\n  summary/);
  const version = spawnSync(process.execPath, [join(repoRoot, 'bin', 'sphinx-audit'), '--version'], { encoding: 'utf8' });
  assert.equal(version.status, 0);
  assert.equal(version.stdout, `sphinx-audit ${JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version}\n`);
});

const AUDIT_BIN = join(repoRoot, 'bin', 'sphinx-audit');

test('--policy: without the journal, the replay starts from the policy file the device was provisioned with (the real bin)', async () => {
  await withSession(async (s) => {
    // The session's device allowlisted its withdrawal's destination in its policy.json.
    const replay = (...extra: string[]) => spawnSync(process.execPath, [AUDIT_BIN, 'verify', '--log', s.dataDir, '--hsm-secret', s.secretFile, ...extra], { encoding: 'utf8' });
    const defaults = replay();
    assert.equal(defaults.status, 1, defaults.stdout + defaults.stderr);
    assert.match(defaults.stdout, /hsmd_sign_withdrawal: logged reply differs from the signer's replayed reply/, 'under the defaults the withdrawal replays as a refusal');
    // The finding says why (the rule, in the refusal's words) and what the reader can do.
    assert.match(defaults.stdout, /reply kind frame vs bad-request \("policy-onchain-destination: output \d+ pays/);
    assert.match(defaults.stdout, /the replay refuses what was signed: if another policy was in force then, give it with --policy FILE/);
    const policyFile = join(s.root, 'policy.json');
    writeFileSync(policyFile, RECORDED_SESSIONS_POLICY_FILE);
    const provisioned = replay('--policy', policyFile);
    assert.equal(provisioned.status, 0, provisioned.stdout + provisioned.stderr);
    assert.match(provisioned.stdout, /OK: no mismatch/);

    writeFileSync(policyFile, '{"maxHtlcs": -1}');
    const bad = replay('--policy', policyFile);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /policy file .*policy\.json: maxHtlcs: expected a whole number .*fix it \(docs\/policies\.md/);
    const missing = replay('--policy', join(s.root, 'nonexistent.json'));
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /no such policy file/);
    const noSecret = spawnSync(process.execPath, [AUDIT_BIN, 'verify', '--log', s.dataDir, '--policy', policyFile], { encoding: 'utf8' });
    assert.equal(noSecret.status, 2);
    assert.match(noSecret.stderr, /--policy is the policy the replay starts from: it needs --hsm-secret/);
  });
});

test('an internal error (a bug) exits 4 with a short message, and where it happened under SPHINX_AUDIT_DEBUG=1 (the real bin)', async () => {
  const INJECTED = 'replay fault injected by the test';
  await withSession(async (s) => {
    const faulty = (env: Record<string, string>) => spawnSync(process.execPath,
      ['--import', pathToFileURL(join(repoRoot, 'dist', 'test', 'audit-fault.js')).href, AUDIT_BIN, ...verifyArgs(s, true)],
      { encoding: 'utf8', env: { ...process.env, AUDIT_FAULT_TEXT: INJECTED, SPHINX_AUDIT_DEBUG: '', ...env } });
    const plain = faulty({});
    assert.equal(plain.status, 4, plain.stdout + plain.stderr);
    assert.match(plain.stderr, new RegExp(`^sphinx-audit: internal error \\(a bug: please report it with the command line\\): ${INJECTED}\nSPHINX_AUDIT_DEBUG=1 shows where it happened\n$`));
    const debug = faulty({ SPHINX_AUDIT_DEBUG: '1' });
    assert.equal(debug.status, 4);
    assert.match(debug.stderr, new RegExp(`TypeError: ${INJECTED}\n\\s+at Signer\\.handle .*audit-fault\\.js.*\n\\s+at verifyLog .*audit/verify\\.js`));
    const clean = spawnSync(process.execPath, [AUDIT_BIN, ...verifyArgs(s, true)], { encoding: 'utf8' });
    assert.equal(clean.status, 0, 'the same inputs verify without the fault');
  });
});

test('a file operation the system refuses (a directory as --out) exits 2 naming the path and what to check, not 4 (a bug)', async () => {
  await withSession(async (s) => {
    const r = await audit(['report', '--log', s.dataDir, '--out', s.root]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, new RegExp(`^sphinx-audit: cannot open ${s.root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: EISDIR: check the path you gave, its permissions, and the free space`));
    assert.doesNotMatch(r.err, /internal error/);
  });
});

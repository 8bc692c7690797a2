/**
 * The device decides (docs/policies.md "The device's policy", docs/remote-protocol.md
 * "Control"), over the real processes: bin/sphinx-hsmd (remote, embedded MQTT, status page)
 * under the simulated lightningd replaying session-basic-l1, bin/sphinx-signer provisioned
 * with an owner key, bin/sphinx-ctl posting signed commands through the broker:
 * - a policy set with sphinx-ctl makes a later request fail with the rule's name;
 * - with the device defaults (no allowlist) the channel's funding transaction is signed and
 *   the withdrawal to another node's address refused (policy-onchain-destination); after
 *   `sphinx-ctl allowlist add` with that address (bech32, made by bitcoinjs-lib) it is signed;
 * - a payment over the velocity limit is refused by name, and passes after `sphinx-ctl approve`;
 * - the policy survives a SIGKILL and restart of the device (sphinx-ctl status, sphinx-audit state);
 *   while the device is down the broker refuses to relay (503) instead of waiting;
 * - replayed, stale, forged, wrong-key and malformed commands are each refused and logged, a
 *   malformed one (signed by the owner or not) changing nothing;
 * - each velocity refusal is on the status page (JSON and the page itself) and in
 *   `sphinx-audit summary` with when, who asked and the rule;
 * - sphinx-ctl rejects an answer with a bad device signature, and an answer to another command.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import * as bitcoin from 'bitcoinjs-lib';
import { SimLightningd } from '../demo/sim-lightningd.js';
import { esc, isoTime } from '../audit/report-html.js';
import { fromHex } from '../signer/bytes.js';
import { summarizeBolt11 } from '../signer/address/bolt11.js';
import { nobleCurve } from '../signer/crypto/noble.js';
import { openMessage, signMessage } from '../signer/control/wire.js';
import { decodeAs, messageType } from '../signer/wire/messages.js';
import { deviceIdOf } from './device-driver.js';
import { fixturePath, repoRoot } from './fixtures.js';
import { freePort, startDeviceProcess, type DeviceProcess } from './remote-helpers.js';
import { SESSION_ALLOWLIST } from './session-records.js';
import { loadTranscript, replayExchanges, type Exchange, type ReplayResult } from './transcript.js';

const NAME = 'session-basic-l1.jsonl';
const PATH = fixturePath(`transcripts/${NAME}`);
const { header, exchanges } = loadTranscript(PATH);
const SECRET = Buffer.from(header.hsm_secret, 'hex');
const DEVICE = deviceIdOf(SECRET);
const CTL = join(repoRoot, 'bin', 'sphinx-ctl');
const AUDIT = join(repoRoot, 'bin', 'sphinx-audit');
const typeOf = (ex: Exchange): number => parseInt(ex.req.slice(0, 4), 16);
const INIT = messageType('hsmd_init');
const WITHDRAWAL = messageType('hsmd_sign_withdrawal');
const PREAPPROVE = messageType('hsmd_preapprove_invoice_check');

/** A broker and a device, with the owner's key; `ctl` runs bin/sphinx-ctl against them. */
class Rig {
  readonly root = mkdtempSync(join(tmpdir(), 'sphinx-policy-'));
  devicesStarted = 0;
  readonly dataDir = join(this.root, 'broker');
  readonly keyFile = join(this.root, 'owner.key');
  readonly ownerKey: string;
  device!: DeviceProcess;
  ld!: SimLightningd;
  mqttPort = 0;
  httpPort = 0;

  constructor() {
    const gen = spawnSync(process.execPath, [CTL, 'keygen', '--key', this.keyFile], { encoding: 'utf8' });
    assert.equal(gen.status, 0, gen.stderr);
    this.ownerKey = gen.stdout.trim();
  }

  async start(policyFile: string | null): Promise<void> {
    [this.mqttPort, this.httpPort] = [await freePort(), await freePort()];
    this.startDevice(policyFile);
    await this.startBroker();
  }

  startDevice(policyFile: string | null = null, dir?: string): void {
    // Under the rig's root (removed at the end) unless the test names a directory.
    dir ??= join(this.root, `device-${++this.devicesStarted}`);
    this.device = startDeviceProcess({ url: `mqtt://127.0.0.1:${this.mqttPort}`, brokerIdFile: join(this.dataDir, 'broker-id'), hsmSecret: SECRET, policyFile, ownerKey: this.ownerKey, dir });
  }

  async startBroker(): Promise<void> {
    this.ld = await SimLightningd.start({
      hsmSecret: SECRET,
      args: header.hsmd_args,
      env: { SPHINX_SIGNER: 'remote', SPHINX_DATA_DIR: this.dataDir, SPHINX_MQTT_PORT: String(this.mqttPort), SPHINX_CLN_VERSION: header.cln_version, SPHINX_HTTP_PORT: String(this.httpPort) },
    });
  }

  ctl(args: readonly string[], key = this.keyFile, broker = `http://127.0.0.1:${this.httpPort}/`): { code: number | null; out: string; err: string } {
    const r = spawnSync(process.execPath, [CTL, '--key', key, '--device', DEVICE, '--broker', broker, ...args], { encoding: 'utf8' });
    return { code: r.status, out: r.stdout, err: r.stderr };
  }

  /** As ctl, without blocking this process (for a server in it). */
  async ctlAsync(args: readonly string[], broker: string): Promise<{ code: number | null; out: string; err: string }> {
    const child = spawn(process.execPath, [CTL, '--key', this.keyFile, '--device', DEVICE, '--broker', broker, ...args]);
    let [out, err] = ['', ''];
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    return { code, out, err };
  }

  /** Replays `list` on the broker; `afterInit` runs (synchronously) once init is answered. */
  replay(list: readonly Exchange[], afterInit?: () => void): ReplayResult {
    return replayExchanges(this.ld, list, (ex) => {
      if (typeOf(ex) === INIT) afterInit?.();
    });
  }

  async stop(): Promise<void> {
    await this.ld?.stop().catch(() => undefined);
    this.ld?.cleanup();
    await this.device?.stop();
    rmSync(this.root, { recursive: true, force: true });
  }
}

const ok = (r: { code: number | null; out: string; err: string }, what: string): unknown => {
  assert.equal(r.code, 0, `${what}: ${r.err}`);
  return JSON.parse(r.out);
};

test('a policy set with sphinx-ctl makes a later request of the recorded session fail with the rule\'s name', async () => {
  const rig = new Rig();
  try {
    await rig.start(null);
    let set: unknown;
    const result = rig.replay(exchanges, () => (set ??= ok(rig.ctl(['policy', 'set', 'maxChannelValueSat=1000']), 'policy set')));
    assert.equal((set as { policy: { maxChannelValueSat: string } }).policy.maxChannelValueSat, '1000', 'the device answered with the new policy');
    assert.ok(result.failed > 0);
    const first = result.mismatches[0]!;
    assert.ok(([messageType('hsmd_sign_remote_commitment_tx'), messageType('hsmd_validate_commitment_tx')] as number[]).includes(first.type), `first refused: type ${first.type}`);
    // lightningd's log (the broker's status messages) names the rule and its numbers.
    await rig.ld.waitForStatus((m) => JSON.stringify(m).includes('policy-channel-value: channel value 1000000 sat > 1000'));
    assert.match(rig.device.output(), /control: policy-set \(nonce \d+\) accepted/);
  } finally {
    await rig.stop();
  }
});

test('on-chain destinations, payment velocity, the policy across SIGKILL, refused commands, and answers sphinx-ctl rejects', async () => {
  const rig = new Rig();
  try {
    await rig.start(null); // the device's defaults: no allowlist
    // Run 1: payments limited to 5,000 sat per day from right after init.
    let limits: unknown;
    const run1Started = Date.now();
    const run1 = rig.replay(exchanges, () => (limits ??= ok(rig.ctl(['limits', 'set', '--sat', '5000', '--window', '86400']), 'limits set')));
    const run1Ended = Date.now();
    assert.deepEqual((limits as { policy: { velocityLimitSat: string } }).policy.velocityLimitSat, '5000');
    const withdrawals = exchanges.filter((ex) => typeOf(ex) === WITHDRAWAL);
    assert.equal(withdrawals.length, 2, 'the session funds its channel, then withdraws');
    const failedSeqs = new Set(run1.mismatches.map((m) => m.seq));
    assert.ok(!failedSeqs.has(withdrawals[0]!.seq), 'the funding transaction of the channel the signer set up is signed');
    assert.ok(failedSeqs.has(withdrawals[1]!.seq), 'the withdrawal to another node is refused');
    await rig.ld.waitForStatus((m) => JSON.stringify(m).includes('policy-onchain-destination: output 0 pays 100000 sat to 0014d2c9aad79516b48864137bc965f6018e6233e4fb'));
    // Preapprovals: those above 5,000 sat refused (approved: false), the 1,234.56 sat one passes.
    const preapprovals = exchanges.filter((ex) => typeOf(ex) === PREAPPROVE && ex.seq < withdrawals[1]!.seq);
    const amounts = preapprovals.map((ex) => summarizeBolt11(nobleCurve, decodeAs('hsmd_preapprove_invoice_check', fromHex(ex.req)).invstring).amountMsat!);
    assert.deepEqual(preapprovals.map((ex) => failedSeqs.has(ex.seq)), amounts.map((a) => a > 5_000_000n));
    assert.match(rig.device.output(), /refused: policy-payment-velocity: 10000000 msat to 0[23][0-9a-f]{64} with 0 msat already paid/);
    // lightningd's log, where its pay fails, names the rule too.
    await rig.ld.waitForStatus((m) => JSON.stringify(m).includes('hsmd_preapprove_invoice_check refused, policy-payment-velocity: not approved by the device'));
    assert.notEqual((await rig.ld.exited()).code, 0, 'a refusal on lightningd\'s own connection stops hsmd, as CLN\'s does');
    rig.ld.cleanup();
    // sphinx-audit counts the refused preapprovals from the broker log and from the journal.
    const refusedCount = amounts.filter((a) => a > 5_000_000n).length;
    const summary = JSON.parse(spawnSync(process.execPath, [AUDIT, 'summary', '--log', rig.dataDir, '--json'], { encoding: 'utf8' }).stdout);
    assert.equal(summary.byType.find((t: { type: string }) => t.type === 'hsmd_preapprove_invoice_check').policyRefusals, refusedCount);
    // ... and lists each: when the broker received it, who asked (the recording's connection), which rule.
    assert.ok(preapprovals.every((ex) => ex.conn === 'master'), "the preapprovals are lightningd's own requests");
    type Listed = { id: string; at: string; askedBy: string; request: string; rule: string };
    const velocity = (summary.policyRefusals as Listed[]).filter((r) => r.rule === 'policy-payment-velocity');
    assert.equal(velocity.length, refusedCount);
    for (const r of velocity) {
      assert.equal(r.askedBy, 'lightningd (master connection)');
      assert.equal(r.request, 'hsmd_preapprove_invoice_check');
      assert.ok(Date.parse(r.at) >= run1Started && Date.parse(r.at) <= run1Ended, `${r.at} within run 1`);
    }
    const printed = spawnSync(process.execPath, [AUDIT, 'summary', '--log', rig.dataDir], { encoding: 'utf8' }).stdout;
    const lines = printed.slice(printed.indexOf('policy refusals (')).split('\n').filter((l) => l.includes('policy-payment-velocity'));
    assert.deepEqual(lines.map((l) => l.replace(/: not approved by the device.*$/, '')),
      velocity.map((r) => `  ${r.at}  id ${r.id}  lightningd (master connection)  hsmd_preapprove_invoice_check  policy-payment-velocity`), printed);
    const html = join(rig.root, 'report.html');
    const report = spawnSync(process.execPath, [AUDIT, 'report', '--log', rig.dataDir, '--journal', rig.device.dir, '--out', html], { encoding: 'utf8' });
    assert.equal(report.status, 0, report.stderr);
    const journalSection = /<section id="journal">.*?<\/section>/s.exec(readFileSync(html, 'utf8'))![0];
    // The recorded node offers the first refused payment's HTLC anyway (as a node skipping
    // preapproval would): that commitment is refused too (policy-htlc-payment-approved).
    assert.match(rig.device.output(), /refused: policy-htlc-payment-approved: an HTLC of 10000000 msat offered for [0-9a-f]{64}, a payment the device never approved/);
    assert.match(journalSection, new RegExp(`<dt>policy refusals</dt><dd>${refusedCount + 2}</dd>`), 'the journal counts the preapprovals, the HTLC offered for the first and the withdrawal');

    // Run 2 (the broker restarted, the same device): init, then the owner acts.
    await rig.startBroker();
    const init = exchanges.find((ex) => typeOf(ex) === INIT)!;
    const reinit = rig.replay([init]);
    assert.equal(reinit.failed, 0, `${JSON.stringify(reinit.mismatches)}\nhsmd:\n${rig.ld.describeStatus()}\ndevice:\n${rig.device.output().slice(-3000)}`);
    const address = bitcoin.address.fromOutputScript(fromHex(SESSION_ALLOWLIST[NAME]![0]!), bitcoin.networks.regtest);
    assert.match(address, /^bcrt1q/);
    const added = ok(rig.ctl(['allowlist', 'add', address]), 'allowlist add') as { policy: { allowlist: string[] } };
    assert.deepEqual(added.policy.allowlist, SESSION_ALLOWLIST[NAME], 'the address decodes to the script the session pays');
    const refused = preapprovals[0]!;
    const hash = summarizeBolt11(nobleCurve, decodeAs('hsmd_preapprove_invoice_check', fromHex(refused.req)).invstring).paymentHash;
    ok(rig.ctl(['approve', Buffer.from(hash).toString('hex')]), 'approve');
    const again = rig.replay([refused, withdrawals[1]!]);
    assert.deepEqual(again.mismatches, [], 'the approved payment and the allowlisted withdrawal get CLN\'s recorded replies');
    const retry = rig.replay([refused]);
    assert.equal(retry.failed, 1, 'the approval was for one payment');
    // The refusal on the status page: when, which request, the rule (its reply has no reason).
    const views = await (await fetch(`http://127.0.0.1:${rig.httpPort}/api/views`)).json() as { timeline: { node: { id: string; at: number | null; what: { kind: string; request: string; description: string } }[] } };
    const onPage = views.timeline.node.filter((e) => e.what.kind === 'policy-refused' && e.what.request === 'hsmd_preapprove_invoice_check');
    assert.equal(onPage.length, amounts.filter((a) => a > 5_000_000n).length + 1, 'run 1\'s refusals (the same broker log) and the retry');
    assert.match(onPage.at(-1)!.what.description, /^policy-payment-velocity: not approved by the device/);
    assert.ok(onPage.at(-1)!.at! > Date.now() - 600_000 && onPage.at(-1)!.at! <= Date.now(), 'with the time the broker received it');
    // The page itself (not only its JSON) lists it: id, when, who asked, the request, the rule.
    const page = await (await fetch(`http://127.0.0.1:${rig.httpPort}/`)).text();
    const refusalsTable = /<table class="refusals">.*?<\/table>/s.exec(page)?.[0] ?? '';
    const last = onPage.at(-1)!;
    assert.ok(refusalsTable.includes(`<tr><td>${last.id}</td><td>${isoTime(last.at!)}</td><td>lightningd (master connection)</td><td>node</td><td>policy-refused</td>` +
      `<td>hsmd_preapprove_invoice_check</td><td>${esc(`refused by policy (hsmd_preapprove_invoice_check): ${last.what.description}`)}</td></tr>`), refusalsTable);

    // Refused commands, each logged by the device and answered (signed) with why.
    const signed = join(rig.root, 'cmd.json');
    const sign = rig.ctl(['sign', 'status']);
    assert.equal(sign.code, 0, sign.err);
    writeFileSync(signed, sign.out);
    ok(rig.ctl(['send', signed]), 'first send');
    assert.match(rig.ctl(['send', signed]).err, /refused by the device \(replayed\)/);
    assert.match(rig.ctl(['--nonce', '5', 'status']).err, /refused by the device \(stale\): nonce 5 is not above/);
    const forged = JSON.parse(sign.out);
    forged.body = forged.body.replace('"status"', '"approve"').replace('"args":{}', `"args":{"paymentHash":"${'11'.repeat(32)}"}`).replace(/"nonce":"\d+"/, `"nonce":"${Date.now() * 2000}"`);
    writeFileSync(signed, JSON.stringify(forged));
    const forgedRun = rig.ctl(['send', signed]);
    assert.match(forgedRun.err, /refused by the device \(forged\)/, JSON.stringify(forgedRun));
    const otherKey = join(rig.root, 'other.key');
    spawnSync(process.execPath, [CTL, 'keygen', '--key', otherKey]);
    assert.match(rig.ctl(['status'], otherKey).err, /refused by the device \(wrong-key\): signed by 0[23][0-9a-f]{64}, not by 0[23][0-9a-f]{64}: --key is not the owner key this device was provisioned with; .*owner\.pub/);
    // Malformed: one signed by the owner but naming no command the device knows, one whose signature is not one.
    const journalState = () => JSON.parse(spawnSync(process.execPath, [AUDIT, 'state', '--journal', rig.device.dir, '--json'], { encoding: 'utf8' }).stdout) as { digest: string; sourced: unknown[] };
    const policyBefore = (ok(rig.ctl(['status']), 'status') as { policy: unknown }).policy;
    const stateBefore = journalState();
    const ownerKey = fromHex(readFileSync(rig.keyFile, 'utf8').trim());
    const unknownCommand = signMessage(nobleCurve, ownerKey, 'command', JSON.stringify({ device: DEVICE, nonce: String(Date.now() * 3000), command: 'erase-everything', args: {} }));
    const badSignature = JSON.stringify({ ...JSON.parse(rig.ctl(['sign', 'status']).out), sig: 'not a signature' });
    for (const [payload, why] of [[unknownCommand, /^command: expected one of /], [badSignature, /^sig: expected a 64-byte compact signature in hex$/]] as const) {
      const answer = await fetch(`http://127.0.0.1:${rig.httpPort}/control`, { method: 'POST', body: payload });
      assert.equal(answer.status, 200, 'relayed, and answered by the device');
      const opened = openMessage(nobleCurve, new Uint8Array(await answer.arrayBuffer()), 'response', DEVICE);
      const body = JSON.parse(opened.body) as { ok: boolean; refusal: string; error: string };
      assert.deepEqual([body.ok, body.refusal], [false, 'malformed']);
      assert.match(body.error, why);
    }
    assert.match(rig.device.output(), /control: a command refused \(malformed\): command: expected one of /);
    assert.match(rig.device.output(), /control: a command refused \(malformed\): sig: expected a 64-byte compact signature in hex/);
    const stateAfter = journalState();
    assert.deepEqual([stateAfter.digest, stateAfter.sourced.length], [stateBefore.digest, stateBefore.sourced.length], 'nothing journaled, nothing changed');
    assert.deepEqual((ok(rig.ctl(['status']), 'status after') as { policy: unknown }).policy, policyBefore, 'the next command goes through, the policy as it was');
    await rig.ld.waitForStatus((m) => /device 0[23][0-9a-f]{64} refused a command \(malformed\)/.test(JSON.stringify(m)));
    for (const refusal of ['replayed', 'stale', 'forged', 'wrong-key', 'malformed']) assert.match(rig.device.output(), new RegExp(`control: .*refused \\(${refusal}\\)`));
    await rig.ld.waitForStatus((m) => /device 0[23][0-9a-f]{64} refused a command \(wrong-key\)/.test(JSON.stringify(m)));

    // sphinx-ctl checks the device's signature and that the answer is to its command.
    const real = await fetch(`http://127.0.0.1:${rig.httpPort}/control`, { method: 'POST', body: rig.ctl(['sign', 'status']).out });
    const answer = await real.text();
    const tampered = JSON.parse(answer);
    tampered.body = tampered.body.replace('"ok":true', '"ok":true,"x":1');
    const fake = await fakeBroker([JSON.stringify(tampered), answer]);
    try {
      const bad = await rig.ctlAsync(['status'], fake.url);
      assert.equal(bad.code, 1);
      assert.match(bad.err, /the answer does not verify \(forged: the signature does not verify/);
      const stale = await rig.ctlAsync(['status'], fake.url);
      assert.equal(stale.code, 1);
      assert.match(stale.err, /signed by the device but for another command/);
    } finally {
      fake.close();
    }

    // SIGKILL the device and restart it on its data directory: the policy is its journal's.
    rig.device.child.kill('SIGKILL');
    await rig.device.stop();
    // Its last will says offline: the broker refuses to relay at once, naming what to do.
    await rig.ld.waitForStatus((m) => /device 0[23][0-9a-f]{64} went offline/.test(JSON.stringify(m)));
    const offline = rig.ctl(['status']);
    assert.equal(offline.code, 2, offline.err);
    assert.match(offline.err, /the broker answered 503: device 0[23][0-9a-f]{64} is not connected to this broker: start sphinx-signer/);
    const dir = rig.device.dir;
    rig.startDevice(null, dir);
    let status: { policy: { velocityLimitSat: string; allowlist: string[] } } | undefined;
    for (let i = 0; i < 100 && !status; i++) {
      const r = rig.ctl(['status']);
      if (r.code === 0) status = JSON.parse(r.out);
      else await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(status, 'the restarted device answers');
    assert.equal(status!.policy.velocityLimitSat, '5000');
    assert.deepEqual(status!.policy.allowlist, SESSION_ALLOWLIST[NAME]);
    const audit = spawnSync(process.execPath, [AUDIT, 'state', '--journal', dir, '--json'], { encoding: 'utf8' });
    const state = JSON.parse(audit.stdout);
    assert.equal(state.state.policy.velocityLimitSat, '5000');
    assert.ok(state.sourced.some((r: { source: string; events: { kind: string }[] }) => r.source === 'control' && r.events.some((e) => e.kind === 'PaymentApprovalGranted')));
  } finally {
    await rig.stop();
  }
});

/** An HTTP server posing as the broker: answers each POST /control with the next of `answers`. */
async function fakeBroker(answers: string[]): Promise<{ url: string; close(): void }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end(answers.shift() ?? ''));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/`, close: () => server.close() };
}

test('sphinx-ctl --version prints the package version; --help lists it', () => {
  const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const r = spawnSync(process.execPath, [CTL, '--version'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `sphinx-ctl ${version}\n`);
  assert.match(spawnSync(process.execPath, [CTL, '--help'], { encoding: 'utf8' }).stdout, /sphinx-ctl --help \| --version/);
});

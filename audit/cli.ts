/**
 * `sphinx-audit`: see and prove what the signer signed. Commands: summary, verify,
 * channel, state (and report, audit/report*). Exit codes in EXIT (and --help): damage to an
 * input (a broker-log record or journal frame that is not as written) is told apart from a
 * mismatch between inputs that read fine, and no exception reaches the user as a stack trace.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fastCurve } from '../node/curve-native.js';
import { packageVersion } from '../node/package-version.js';
import type { BrokerLog, StoredRecord } from '../log/broker-log/broker-log.js';
import { BrokerLogDamagedError } from '../log/broker-log/log-dir.js';
import { Journal, type Recovery } from '../log/journal/journal.js';
import { JournalCorruptError } from '../log/journal/frame.js';
import { isSourced } from '../log/journal/record.js';
import { emptyBrokerViews, replayBrokerLog, replayJournal, replayJournalViews } from '../projections/replay.js';
import { fmtHelp, HELP } from './help.js';
import { AuditInputError, openBrokerLog, readJournal, readPolicyFile, readSecretFile } from './inputs.js';
import { type JournalScan, scanJournal } from './journal-scan.js';
import { auditMirror, printMirror } from './mirror-check.js';
import { Progress, progressStream, type ProgressStream } from './progress.js';
import { printChannel, printState, printSummary, printVerify } from './print.js';
import { renderReport } from './report.js';
import { channelOf, parseChannel, stateOf, summaryOf } from './views.js';
import { verifyLog } from './verify.js';

export interface AuditIo {
  readonly stdout: ProgressStream;
  readonly stderr: ProgressStream;
  readonly env: Record<string, string | undefined>;
}

const OPTIONS = {
  log: { type: 'string' },
  journal: { type: 'string' },
  'hsm-secret': { type: 'string' },
  policy: { type: 'string' },
  developer: { type: 'boolean' },
  json: { type: 'boolean' },
  out: { type: 'string' },
  progress: { type: 'boolean' },
  'no-progress': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'string' ? string : boolean };

class UsageError extends Error {}

/** The exit codes (documented in --help, audit/help.ts). */
export const EXIT = { ok: 0, mismatch: 1, usage: 2, damaged: 3, internal: 4 } as const;

const line = (io: AuditIo, s: string): void => void io.stdout.write(s + '\n');

/** Damage met while reading, reported after the command's own output. */
type Damage = string[];

export async function runAudit(argv: readonly string[], io: AuditIo): Promise<number> {
  const [command, ...rest] = argv;
  const damage: Damage = [];
  const code = await runCommand(command, rest, io, damage);
  if (damage.length === 0 || code === EXIT.usage || code === EXIT.internal) return code;
  for (const d of damage) io.stderr.write(`sphinx-audit: damaged input: ${d}\n`);
  io.stderr.write('sphinx-audit: what reads fine was audited; nothing was written to the inputs. ' +
    'Restore the damaged input from a backup, or keep it for inspection (docs/broker-log.md "Audit")\n');
  return EXIT.damaged;
}

async function runCommand(command: string | undefined, rest: readonly string[], io: AuditIo, damage: Damage): Promise<number> {
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      line(io, fmtHelp(command === 'help' ? rest[0] : undefined));
      return command === undefined ? 2 : 0;
    }
    if (command === '--version') {
      line(io, `sphinx-audit ${packageVersion()}`);
      return 0;
    }
    if (!(command in HELP)) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    const { values, positionals } = parseArgs({ args: [...rest], options: OPTIONS, allowPositionals: true, strict: true });
    const v = values as Values;
    if (v.help) {
      line(io, fmtHelp(command));
      return 0;
    }
    const progress = progressStream(io.stderr, v['no-progress'] ? false : v.progress, io.env);
    const withLog = <T>(dir: string, f: (log: BrokerLog) => Promise<T>): Promise<T> => withCopyOf(dir, damage, f);
    switch (command) {
      case 'summary':
        return await summary(io, v, progress, withLog);
      case 'verify':
        return await verify(io, v, progress, withLog, damage);
      case 'channel':
        return await channel(io, v, positionals, progress, withLog);
      case 'state':
        return state(io, v);
      case 'report':
        return await report(io, v, progress, withLog);
      default:
        throw new UsageError(`${command}: not built into this command line (see sphinx-audit --help)`);
    }
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`sphinx-audit: ${(e as Error).message}\n${fmtHelp(command && command in HELP ? command : undefined)}\n`);
      return 2;
    }
    if (e instanceof AuditInputError) {
      io.stderr.write(`sphinx-audit: ${e.message}\n`);
      return EXIT.usage;
    }
    if (e instanceof BrokerLogDamagedError || e instanceof JournalCorruptError) {
      // Damage LevelDB or the journal's recovery cannot read past: what was found before it is lost.
      damage.push(e instanceof BrokerLogDamagedError ? damageText(e) : e.message);
      return EXIT.damaged;
    }
    const sys = e as NodeJS.ErrnoException;
    if (typeof sys.syscall === 'string' && typeof sys.code === 'string') {
      // The system refused a file operation (a directory given as --out, a full $TMPDIR, no
      // permission): the command line or the machine needs a change, not sphinx-audit.
      io.stderr.write(`sphinx-audit: cannot ${sys.syscall}${sys.path ? ` ${sys.path}` : ''}: ${sys.code}: ` +
        'check the path you gave, its permissions, and the free space of the disk (and of $TMPDIR, where the broker log is copied)\n');
      return EXIT.usage;
    }
    io.stderr.write(`sphinx-audit: internal error (a bug: please report it with the command line): ${(e as Error).message ?? String(e)}\n` +
      (io.env.SPHINX_AUDIT_DEBUG === '1' ? `${(e as Error).stack}\n` : 'SPHINX_AUDIT_DEBUG=1 shows where it happened\n'));
    return EXIT.internal;
  }
}

const damageText = (e: BrokerLogDamagedError): string => `the broker log ${e.dir} is damaged ${e.where}: ${e.detail}`;

function needLog(v: Values): string {
  if (!v.log) throw new UsageError("--log DIR is required: the broker's SPHINX_DATA_DIR (its broker log is DIR/broker-log)");
  return v.log;
}

type WithLog = <T>(dir: string, f: (log: BrokerLog) => Promise<T>) => Promise<T>;

/** Runs `f` on a private copy of the broker log (inputs.ts), damage going to `damage`. */
async function withCopyOf<T>(dir: string, damage: Damage, f: (log: BrokerLog) => Promise<T>): Promise<T> {
  const opened = await openBrokerLog(dir, (e) => damage.push(damageText(e)));
  try {
    return await f(opened.log);
  } finally {
    await opened.close();
  }
}

/** The log's records, drawing progress as they go by. */
async function* counted(log: BrokerLog, bar: Progress): AsyncGenerator<StoredRecord> {
  let n = 0;
  for await (const r of log.read()) {
    yield r;
    if ((++n & 1023) === 0) bar.update(n);
  }
  bar.update(n);
  bar.done();
}

async function summary(io: AuditIo, v: Values, progress: ProgressStream | undefined, withLog: WithLog): Promise<number> {
  const views = await withLog(needLog(v), (log) => replayBrokerLog(counted(log, new Progress(progress, 'summary', Number(log.end))), emptyBrokerViews()));
  const s = summaryOf(views);
  if (v.json) line(io, JSON.stringify(s, null, 2));
  else printSummary((t) => line(io, t), s);
  return 0;
}

async function verify(io: AuditIo, v: Values, progress: ProgressStream | undefined, withLog: WithLog, damage: Damage): Promise<number> {
  const dir = needLog(v);
  const hsmSecret = v['hsm-secret'] === undefined ? undefined : readSecretFile(v['hsm-secret']);
  if (v.policy !== undefined && hsmSecret === undefined) throw new UsageError('--policy is the policy the replay starts from: it needs --hsm-secret (without it, verify checks signatures and decides nothing)');
  const policy = v.policy === undefined ? undefined : readPolicyFile(v.policy);
  let journal: JournalScan | undefined;
  if (v.journal !== undefined) {
    const copy = readJournal(v.journal);
    const bar = new Progress(progress, 'journal', copy.bytes.length, 'bytes');
    journal = scanJournal(copy.files, (done) => bar.update(done));
    bar.done();
    for (const b of journal.bad) if (!b.tail) damage.push(`the journal ${copy.path} has a corrupt frame at byte offset ${b.offset}: ${b.reason}`);
  }
  const report = await withLog(dir, (log) => {
    const bar = new Progress(progress, hsmSecret ? 'replay' : 'verify', Number(log.end));
    return verifyLog(log, { curve: fastCurve(), hsmSecret, developer: v.developer, policy, journal, onProgress: (n) => bar.update(n) }).finally(() => bar.done());
  });
  const mirror = journal && (await auditMirror(dir, journal.records.map((r) => r.record), hsmSecret));
  if (v.json) {
    const ok = report.findings.length === 0 && damage.length === 0;
    line(io, JSON.stringify({ ...verifyJson(report), ok, damaged: damage, mirror: mirror && { ...mirror, findings: mirror.findings.map(findingJson) } }, null, 2));
  }
  else {
    printVerify((t) => line(io, t), report);
    if (mirror) printMirror((t) => line(io, t), mirror);
  }
  return report.findings.length === 0 && !mirror?.findings.length ? 0 : 1;
}

const verifyJson = (r: Awaited<ReturnType<typeof verifyLog>>) => ({
  ok: r.findings.length === 0,
  mode: r.mode,
  records: r.records,
  requests: r.requests,
  replies: r.replies,
  verified: r.verified,
  byType: Object.fromEntries([...r.byType].map(([t, c]) => [t, { ok: c.ok, bad: c.bad, unchecked: c.unchecked, none: c.none, how: [...c.how] }])),
  journal: r.journal,
  findings: r.findings.map(findingJson),
  notes: r.notes.map(findingJson),
});

const findingJson = (f: { seq?: bigint; id?: bigint; type?: string; offset?: number; counter?: bigint; problem?: string; text: string }) => ({
  problem: f.problem,
  counter: f.counter?.toString(),
  seq: f.seq?.toString(),
  id: f.id?.toString(),
  type: f.type,
  offset: f.offset,
  text: f.text,
});

/** The device's own recovery of the journal (on an in-memory copy: nothing is written). */
function recoverJournal(path: string): { recovery: Recovery; path: string } {
  const copy = readJournal(path);
  return { recovery: Journal.open(copy.files).recovery, path: copy.path };
}

async function channel(io: AuditIo, v: Values, positionals: string[], progress: ProgressStream | undefined, withLog: WithLog): Promise<number> {
  if (positionals.length !== 1) throw new UsageError('channel needs one <peer>/<dbid>: the peer node id (66 hex digits) and the channel dbid');
  const ref = parseChannel(positionals[0]!);
  if (ref instanceof Error) throw new UsageError(`bad channel ${JSON.stringify(positionals[0])}: ${ref.message}: write <peer>/<dbid>, the peer node id in 66 hex digits and the dbid a u64 in decimal, e.g. 02ab…/1`);
  if (!v.log && !v.journal) throw new UsageError('channel needs --log DIR (the broker log), --journal FILE|DIR, or both');
  const fromLog = v.log === undefined ? undefined
    : await withLog(v.log, (log) => replayBrokerLog(counted(log, new Progress(progress, 'channel', Number(log.end))), emptyBrokerViews()));
  const fromJournal = v.journal === undefined ? undefined : replayJournalViews(recoverJournal(v.journal).recovery);
  const report = channelOf(ref, fromLog, fromJournal);
  if (!report.fromLog?.length && !report.fromJournal?.length) {
    const known = [...new Set([...(fromLog?.timeline.channels.keys() ?? []), ...(fromJournal?.timeline.channels.keys() ?? [])])];
    throw new AuditInputError(`no channel ${report.channel} in ${[v.log && `the broker log ${v.log}`, v.journal && `the journal ${v.journal}`].filter(Boolean).join(' or ')}; ` +
      (known.length ? `channels there: ${known.join(', ')}` : 'it has no channels') + ' (sphinx-audit summary lists them)');
  }
  if (v.json) line(io, JSON.stringify(report, null, 2));
  else printChannel((t) => line(io, t), report);
  return 0;
}

function state(io: AuditIo, v: Values): number {
  if (!v.journal) throw new UsageError("state needs --journal FILE|DIR: the device's journal (or the in-process signer's SPHINX_DATA_DIR)");
  const { recovery, path } = recoverJournal(v.journal);
  const s = stateOf(replayJournal(recovery), {
    path,
    records: recovery.records.length,
    sourced: recovery.entries.flatMap(({ entry }) => (isSourced(entry) ? [entry] : [])),
    snapshotLastId: recovery.snapshot?.lastId,
    notes: recovery.notes,
  });
  if (v.json) line(io, JSON.stringify(s, null, 2));
  else printState((t) => line(io, t), s);
  return 0;
}

/** The HTML report (audit/report.ts) of the broker log, with the journal's statistics if given. */
async function report(io: AuditIo, v: Values, progress: ProgressStream | undefined, withLog: WithLog): Promise<number> {
  const dir = needLog(v);
  if (!v.out) throw new UsageError('report needs --out FILE: where to write the HTML report (one self-contained file)');
  const views = await withLog(dir, (log) => replayBrokerLog(counted(log, new Progress(progress, 'report', Number(log.end))), emptyBrokerViews()));
  const journal = v.journal === undefined ? undefined : (() => {
    const { recovery, path } = recoverJournal(v.journal);
    return { path, stats: replayJournalViews(recovery).stats };
  })();
  writeFileSync(v.out, renderReport(views, { source: dir, generatedAt: Date.now(), journal }));
  const facts = { out: v.out, requests: views.stats.requests, channels: views.timeline.channels.size, records: views.nextSeq.toString() };
  line(io, v.json ? JSON.stringify(facts, null, 2) : `wrote ${facts.out}: ${facts.records} records, ${facts.requests} requests, ${facts.channels} channels`);
  return 0;
}

/** The bin/sphinx-audit entry point. */
export async function main(argv: readonly string[]): Promise<void> {
  // A reader that stops early (`| head`) is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  process.exitCode = await runAudit(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env });
}

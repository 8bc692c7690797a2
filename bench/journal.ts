/**
 * The device journal (log/journal) on the host:
 * - append+sync per record through node/node-file.ts on a real temp file (the
 *   records session-basic-l1's decisions journal, ids increasing), against a same-process
 *   baseline: raw fs.writeSync + fsyncSync of the same frame bytes on the same disk
 *   (alternating rounds, medians: fsync time on a shared disk drifts);
 * - state rebuild rate for 100k and 1M journal records: the session's records repeated
 *   with increasing ids (so its channel is created, used, closed and forgotten over and
 *   over, one channel at a time), as one journal in memory (MemoryFile, so the figure is
 *   the scan and the fold, not the disk): scan with CRC-32C + decode (the device recovery's decoder: replies checked, not copied) + fold in chunks
 *   (memory: the file and one chunk), the fold alone, and at 100k the device core's own
 *   recovery (SignerCore.open, folding each record as it is decoded) beside the tools' path
 *   (Journal.open, which holds every record, then replayJournal). The first
 *   rebuild runs cold (the JIT has not seen the code yet, as after a device restart); the
 *   100k rebuild is run again at the end, warm, so the rows show whether the cost per record
 *   grows with the journal.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { NodeDir } from '../node/node-file.js';
import { checkFrame, encodeFrame, FRAME_HEADER, sealFrame } from '../log/journal/frame.js';
import { Journal, JOURNAL_FILE, openJournalFiles } from '../log/journal/journal.js';
import { decodeEntryToFold, encodeRecord, type EntryToFold, type JournalRecord } from '../log/journal/record.js';
import { MemoryDir } from '../log/memory-file.js';
import { replayJournal } from '../projections/replay.js';
import { SignerCore } from '../core/signer-core.js';
import { Signer } from '../signer/signer.js';
import { replayEvents } from '../projections/signer-state.js';
import { initialState } from '../signer/state.js';
import { liveSession, sessionSignerOptions } from '../test/session-records.js';
import { type Bench, fmtOps, fmtRatio, type Measurement, measure, printTable } from './harness.js';

const SESSION = 'session-basic-l1.jsonl';
const signerOptions = sessionSignerOptions(SESSION);
/** Rebuilds measured: journal records × channels alive at once (issue: flat cost per event). */
const REBUILDS = [
  { n: 100_000, channels: 1, run: 'cold: the first in this process' },
  { n: 1_000_000, channels: 1, run: 'warm' },
  { n: 1_000_000, channels: 1000, run: 'warm' },
  { n: 100_000, channels: 1, run: 'warm: the first row again' },
] as const;
/** The rebuild rate we hold ourselves to (records/s), at any number of channels. */
const REBUILD_TARGET = 250_000;
/** The ratio to the target, and by how much it is missed when it is. */
const toTarget = (perSec: number) => fmtRatio(perSec / REBUILD_TARGET) + (perSec < REBUILD_TARGET ? ` (${Math.ceil(100 - (100 * perSec) / REBUILD_TARGET)}% short)` : '');

/** The session's journal records (what SignerCore appends for it). */
function sessionRecords(): JournalRecord[] {
  return liveSession(SESSION).decisions.map((d) => ({
    id: d.envelope.id,
    requestDigest: sha256(d.envelope.message),
    events: d.decision.events,
    reply: d.decision.reply,
  }));
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const rss = () => mib(process.memoryUsage().rss);

const ROUNDS = 3;
/**
 * The device core's recovery measured beside the streaming rebuild: records × channels, rounds,
 * and whether the tools' path (holding every record) is measured too. 200k records over 1,000
 * channels: the session's 193 records per channel, so every channel is alive at the end.
 */
const RECOVERIES = [
  { n: 100_000, channels: 1, rounds: 5, withTools: true },
  { n: 200_000, channels: 1000, rounds: 3, withTools: false },
] as const;

/**
 * Journal.append+sync and the raw baseline in alternating rounds (a shared disk's fsync
 * time drifts), each figure the median round.
 */
function appendSync(records: readonly JournalRecord[], budgetMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-journal-'));
  try {
    const { journal } = Journal.open(openJournalFiles(new NodeDir(join(dir, 'journal'))));
    const frames = records.map((r) => encodeFrame(encodeRecord(r)));
    const fd = openSync(join(dir, 'raw'), 'a');
    let id = 0n;
    const viaJournal: Measurement[] = [];
    const raw: Measurement[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      viaJournal.push(measure((i) => {
        journal.append({ ...records[i % records.length]!, id: ++id });
        journal.sync();
      }, budgetMs / ROUNDS));
      raw.push(measure((i) => {
        const bytes = frames[i % frames.length]!;
        writeSync(fd, bytes, 0, bytes.length);
        fsyncSync(fd);
      }, budgetMs / ROUNDS));
    }
    closeSync(fd);
    const median = (ms: Measurement[]) => [...ms].sort((a, b) => a.opsPerSec - b.opsPerSec)[ms.length >> 1]!;
    const meanFrame = frames.reduce((n, f) => n + f.length, 0) / frames.length;
    return { viaJournal: median(viaJournal), raw: median(raw), meanFrame };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The session's records as `channels` channels: round r of the session is about channel
 * dbid 1000 + (r mod channels), and with more than one channel lightningd never forgets one,
 * so up to `channels` channels are alive at once (each reused channel starts afresh with
 * new_channel, as lightningd does with a reused dbid).
 */
function recordsForChannels(records: readonly JournalRecord[], channels: number): JournalRecord[] {
  if (channels === 1) return [...records];
  const out: JournalRecord[] = [];
  for (let c = 0; c < channels; c++) {
    const dbid = 1000n + BigInt(c);
    for (const r of records) {
      const events = r.events
        .filter((e) => e.kind !== 'ChannelForgotten')
        .map((e) => ('channel' in e ? { ...e, channel: { ...e.channel, dbid } } : e));
      out.push({ ...r, events });
    }
  }
  return out;
}

/**
 * A journal of `n` records (`records` repeated with ids 1..n), in one MemoryDir. Built in
 * place, frame by frame, so the setup leaves no garbage for the timed rebuild to collect.
 */
function journalOf(records: readonly JournalRecord[], n: number): { dir: MemoryDir; bytes: number } {
  const payloads = records.map((r) => encodeRecord(r));
  const frameBytes = payloads.map((p) => FRAME_HEADER + p.length);
  const perRound = frameBytes.reduce((a, b) => a + b, 0);
  let bytes = Math.floor(n / records.length) * perRound;
  for (let i = 0; i < n % records.length; i++) bytes += frameBytes[i]!;
  const content = new Uint8Array(bytes);
  const view = new DataView(content.buffer);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const payload = payloads[i % payloads.length]!;
    content.set(payload, at + FRAME_HEADER);
    view.setBigUint64(at + FRAME_HEADER + 1, BigInt(i + 1)); // record.ts: u8 version ‖ u64 id ‖ …
    sealFrame(content, at, payload.length);
    at += FRAME_HEADER + payload.length;
  }
  const dir = new MemoryDir();
  dir.open(JOURNAL_FILE).append(content); // one append: MemoryFile copies its content on every append
  return { dir, bytes };
}

/**
 * Records decoded before they are folded. Small enough that a chunk's decoded records die in
 * V8's young generation: with 10,000 (~10 MiB of objects) they outlived scavenges, were
 * promoted, and collecting them cost as much as decoding and folding them.
 */
const CHUNK = 1_000;

/**
 * Scan (CRC-32C), decode and fold a journal of `n` records chunk by chunk, so memory stays
 * the file plus one chunk of decoded records; scan+decode and fold are timed apart.
 */
function rebuildStreaming(records: readonly JournalRecord[], n: number) {
  global.gc?.();
  const before = rss();
  const { dir, bytes } = journalOf(records, n);
  const file = dir.open(JOURNAL_FILE);
  const content = file.read(0, file.size());
  let state = initialState;
  let decodeMs = 0;
  let foldMs = 0;
  let events = 0;
  let offset = 0;
  let count = 0;
  while (offset < content.length) {
    let start = performance.now();
    const chunk: EntryToFold[] = [];
    while (chunk.length < CHUNK && offset < content.length) {
      const frame = checkFrame(content, offset);
      if (!frame.ok) throw new Error(`rebuild: frame at ${offset}: ${frame.reason}`);
      chunk.push(decodeEntryToFold(frame.payload));
      offset += FRAME_HEADER + frame.payload.length;
    }
    decodeMs += performance.now() - start;
    start = performance.now();
    state = replayEvents(chunk, state);
    foldMs += performance.now() - start;
    count += chunk.length;
    for (const r of chunk) events += r.events.length;
  }
  if (count !== n) throw new Error(`rebuild: ${count} records of ${n}`);
  return { n, bytes, events, channels: state.channels.size, decodeMs, foldMs, before, after: rss() };
}

/**
 * The device core's own recovery: SignerCore.open on a journal of `n` records (scan, decode,
 * fold each record as it is decoded, keep every reply since the snapshot), the signer built
 * on the state as a device does.
 */
function rebuildByCore(records: readonly JournalRecord[], n: number): { ms: number; channels: number } {
  const { dir } = journalOf(records, n);
  global.gc?.();
  const start = performance.now();
  const { core } = SignerCore.open(openJournalFiles(dir), (state) => new Signer(signerOptions, state));
  const ms = performance.now() - start;
  if (core.lastId !== BigInt(n)) throw new Error(`rebuild: recovered up to id ${core.lastId} of ${n}`);
  return { ms, channels: core.state.channels.size };
}

/** The tools' path (sphinx-audit): Journal.open, which holds every record, then replayJournal. */
function rebuildHoldingAll(records: readonly JournalRecord[], n: number): number {
  const { dir } = journalOf(records, n);
  global.gc?.();
  const start = performance.now();
  const { recovery } = Journal.open(openJournalFiles(dir));
  replayJournal(recovery);
  const ms = performance.now() - start;
  if (recovery.records.length !== n) throw new Error(`rebuild: ${recovery.records.length} records recovered of ${n}`);
  return ms;
}

/**
 * The device core's recovery beside the streaming rebuild (its floor: the same scan, decode
 * and fold), in alternating rounds (the machine is shared): each one's median and range, and
 * the core's against the target. `withTools`: then the tools' path, in rounds of its own after
 * those (the records it holds are promoted, and collecting them would land in the next round).
 */
function printRecovery(records: readonly JournalRecord[], n: number, channels: number, rounds: number, withTools: boolean): void {
  let alive = 0;
  const core: number[] = [];
  const streaming: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const r = rebuildByCore(records, n);
    alive = r.channels;
    core.push(r.ms);
    const s = rebuildStreaming(records, n);
    streaming.push(s.decodeMs + s.foldMs);
  }
  const median = (ms: number[]) => [...ms].sort((a, b) => a - b)[ms.length >> 1]!;
  const perSec = (ms: number) => (n * 1000) / ms;
  const line = (ms: number[]) =>
    `${fmtOps(perSec(median(ms)))} records/s (${(median(ms) / 1000).toFixed(2)} s; rounds ${fmtOps(perSec(Math.max(...ms)))}–${fmtOps(perSec(Math.min(...ms)))})`;
  const rate = perSec(median(core));
  console.log(`\nrecovery of ${n.toLocaleString('en-US')} records, ${channels} channel${channels > 1 ? 's' : ''} (${alive} alive at the end), medians of ${rounds} alternating rounds:`);
  console.log(`  SignerCore.open (the device core, folding each record as it is decoded): ${line(core)}, ÷ 250k/s target ${toTarget(rate)}: ` +
    `${rate >= REBUILD_TARGET ? 'met' : 'MISSED'}; its rate ÷ the streaming rebuild's ${fmtRatio(median(streaming) / median(core))}`);
  console.log(`  streaming rebuild (as the rows above: scan, decode, fold in chunks):           ${line(streaming)}`);
  if (!withTools) return;
  const holding: number[] = [];
  for (let round = 0; round < rounds; round++) holding.push(rebuildHoldingAll(records, n));
  console.log(`  then Journal.open + replayJournal (sphinx-audit's path, holding every record): ${line(holding)}`);
}

export const journalBench: Bench = {
  name: 'device journal: append+sync per record (host file) and state rebuild rate',
  run({ budgetMs }) {
    const records = sessionRecords();
    const budget = Math.min(Math.max(budgetMs * 10, 1500), 3000);
    const { viaJournal, raw, meanFrame } = appendSync(records, budget);
    const us = (opsPerSec: number) => (1e6 / opsPerSec).toFixed(1);
    printTable(
      ['append + fsync', 'µs/record', 'records/s (n)', '÷ raw'],
      [
        ['Journal.append+sync via NodeFile', us(viaJournal.opsPerSec), `${fmtOps(viaJournal.opsPerSec)} (${viaJournal.iterations})`, fmtRatio(viaJournal.opsPerSec / raw.opsPerSec)],
        ['raw fs.writeSync+fsyncSync, same bytes', us(raw.opsPerSec), `${fmtOps(raw.opsPerSec)} (${raw.iterations})`, '1'],
      ],
    );
    console.log(`records cycle session-basic-l1's ${records.length} journal records, mean frame ${meanFrame.toFixed(0)} B; median of ${ROUNDS} alternating rounds of ${Math.round(budget / ROUNDS)} ms; files under ${tmpdir()}`);

    const rate = (count: number, ms: number) => `${fmtOps((count * 1000) / ms)} (${(ms / 1000).toFixed(2)} s)`;
    const rows = REBUILDS.map(({ n, channels, run }) => {
      const r = rebuildStreaming(recordsForChannels(records, channels), n);
      const perSec = (n * 1000) / (r.decodeMs + r.foldMs);
      return [
        n.toLocaleString('en-US'), `${channels} (${r.channels} at the end)`, run, mib(r.bytes), r.events.toLocaleString('en-US'), rate(n, r.decodeMs + r.foldMs),
        rate(n, r.foldMs), toTarget(perSec), `${r.before} → ${r.after}`,
      ];
    });
    console.log();
    printTable(['journal records', 'channels', 'run', 'size', 'events', 'rebuild records/s (time)', 'fold only records/s', '÷ 250k/s target', 'rss before → after'], rows);
    for (const { n, channels, rounds, withTools } of RECOVERIES) printRecovery(recordsForChannels(records, channels), n, channels, rounds, withTools);
    console.log(`rebuild = scan with CRC-32C, decode as the device's recovery does (each reply checked, not copied out) and fold in chunks of ${CHUNK.toLocaleString('en-US')}, on journals in memory ` +
      '(MemoryFile: no disk reads); fold only = replayEvents over decoded records; the records are session-basic-l1\'s repeated with new ids');
  },
};

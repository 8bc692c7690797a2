/**
 * A failing property prints its shrunk counterexample as a readable list of steps. Shown on
 * deliberately broken variants that live only here: a journal whose sync() does nothing
 * (so an acknowledged record is lost by a crash), run through property (a); and a broker
 * session whose resend timers are never armed, run through the session property (f).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import fc from 'fast-check';
import type { FilePort } from '../log/file-port.js';
import { recoveryRestoresState } from './properties.js';
import { type SessionLike, sessionSurvivesTheNetwork } from './session-network.js';

/** The broken variant: appends reach the file, but sync never makes them durable. */
const syncless = (file: FilePort): FilePort => ({
  get name() {
    return file.name;
  },
  size: () => file.size(),
  read: (offset, length) => file.read(offset, length),
  append: (bytes) => file.append(bytes),
  sync: () => {},
  truncate: (length) => file.truncate(length),
});

test('a counterexample prints as numbered steps with the crash named', (t) => {
  const details = fc.check(recoveryRestoresState({ wrapJournal: syncless }), { seed: 42, numRuns: 200, includeErrorInReport: true });
  assert.equal(details.failed, true, 'the broken journal must be caught');
  const report = fc.defaultReportMessage(details)!;
  t.diagnostic(report.split('\n').slice(0, 12).join('\n'));
  assert.match(report, /Counterexample: \[\n {2}snapshot every \d+, \d+ recent replies kept\n/);
  assert.match(report, /\n {2}1\. #1 init/);
  assert.match(report, /CRASH (after sync|after append)[^\n]*; reboot; redeliver #\d+/);
  // Caught by the state check, or earlier by the high-water mark (an answered record is gone).
  assert.match(report, /is not the crash-free state of the acknowledged records|JournalRollbackError: the journal ends at request id \d+ but replies up to id \d+/);
  // Shrunk: a handful of steps, not a whole session.
  const steps = report.match(/\n {2}\d+\.(-\d+\.)? /g) ?? [];
  assert.ok(steps.length > 0 && steps.length <= 4, `${steps.length} steps:\n${report}`);
});

test('the session property on a broken variant (resend timers never armed) prints the lost message and the unanswered request', async (t) => {
  const withoutResends = (session: SessionLike): SessionLike => ({ handle: (event) => session.handle(event).filter((c) => c.kind !== 'arm') });
  const details = await fc.check(sessionSurvivesTheNetwork({ wrap: withoutResends }), { seed: 42, numRuns: 200, includeErrorInReport: true });
  assert.equal(details.failed, true, 'a session that never resends must be caught');
  const report = fc.defaultReportMessage(details)!;
  t.diagnostic(report.split('\n').slice(0, 8).join('\n'));
  assert.match(report, /Counterexample: \[\{"requests":\d+,"concurrent":\d+,"steps":\[[^\]]*"drop (req|res) \d+"/);
  assert.match(report, /#\d+ \w+ never answered after the network settled/);
  assert.match(report, /session log \(last lines\):\n {2}(remote signer|device): /);
  const steps = JSON.parse(/Counterexample: \[(.*)\]\n/.exec(report)![1]!) as { steps: string[] };
  assert.ok(steps.steps.length <= 8, `shrunk to a few steps: ${steps.steps.join(', ')}`);
});

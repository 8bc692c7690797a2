/** `sphinx-audit --help` and each command's help. */

const TOOL = `sphinx-audit: see and prove what the signer signed.

Usage: sphinx-audit <command> [options]   (sphinx-audit <command> --help for more)
       sphinx-audit --version

Commands:
  summary  --log DIR                          counts by type, client and channel; time range; latency
  verify   --log DIR [--journal J] [--hsm-secret FILE [--policy FILE]]
                                              re-verify every reply; cross-check the device journal
  channel  <peer>/<dbid> [--log DIR] [--journal J]
                                              one channel's timeline
  state    --journal J                        the rebuilt signer state, with its digest
  report   --log DIR [--journal J] --out FILE one self-contained HTML report with charts

DIR is the broker's SPHINX_DATA_DIR (its log is DIR/broker-log); J is the device's data
directory (journal, snapshot-a, snapshot-b) or its journal file. Nothing is written to either:
the LevelDB directories are read from a private temporary copy (LevelDB rewrites what it opens).
A running broker's log is refused (stop it, or copy it yourself).
Every command takes --json (machine-readable, the same facts) and --progress/--no-progress
(a progress bar on stderr; by default only when stderr is a terminal; SPHINX_AUDIT_PROGRESS=1 forces it).

Exit status:
  0  all well
  1  verify found a mismatch between inputs that read fine (each named)
  2  usage error, an input that cannot be opened, or a file the system would not read or write
     (a directory as --out, no permission, a full disk; the message says what to change)
  3  an input is damaged: a broker-log record whose checksum fails, records missing from its
     sequence, a LevelDB file LevelDB refuses, a corrupt journal frame (each named on stderr;
     what reads fine is still audited and printed)
  4  internal error: a bug in sphinx-audit (SPHINX_AUDIT_DEBUG=1 prints where)`;

export const HELP: Readonly<Record<string, string>> = {
  summary: `sphinx-audit summary --log DIR [--json]

Reads the broker log once: requests by hsmd message type (with errors and policy refusals),
by client connection (peer/dbid/permissions) and by channel; the time range; the latency
distribution (p50/p90/p99/max) and its histogram rows; holes in the sequence; each policy
refusal: when the broker received the request, who asked (lightningd or a client connection),
the request, and the rule with why.`,
  verify: `sphinx-audit verify --log DIR [--journal FILE|DIR] [--hsm-secret FILE [--policy FILE]] [--developer] [--json]

With --hsm-secret: replays every answered request through a fresh signer (in the order the
device answered, with the logged client and time) and compares every reply byte for byte
(--developer as hsmd was run with it). The replay decides under the policy the device started
from: its defaults, or --policy FILE, the device's policy.json (the same format: settings
over the defaults, docs/policies.md); with --journal, the device's own policy changes (its
policy file, sphinx-ctl) apply from where the journal has them. Without it: checks every signature in every reply
against the keys the log establishes (node id from the init reply, funding keys and basepoints
from get_channel_basepoints, per-commitment points) and reports per type what it checked and
what needs the secret. With --journal: every logged reply must be the journal record of the
same id (same request digest, same reply); damaged frames are named by byte offset.
With --journal and a broker data directory holding the journal mirror (DIR/mirror), the
device's mirror is checked against its journal (docs/journal.md "Mirror"): the chain (counters
one apart, each previous MAC; with --hsm-secret every MAC too), then every journal record in it
byte for byte. Each finding names the entry or request id and its kind: gap (entries or a
journal record missing), forged (a MAC that does not verify, a spliced chain, bytes that differ
from the journal), reordered (a counter or request id not after the one before), malformed
(an entry that does not decode), rollback (the mirror ends before the journal, or the journal
before the mirror); a consistent mirror prints its entry count.
Exits 1 naming each mismatch: broker-log seq, request id, message type, journal offset, and
each mirror finding.`,
  channel: `sphinx-audit channel <peer>/<dbid> [--log DIR] [--journal FILE|DIR] [--json]

The channel's timeline: created, set up, each commitment validated/signed/revoked with its
number and HTLC count, secrets stored, closes and sweeps, policy refusals. From the broker log
(with times, sequence numbers and latencies) and/or the journal (from its events).`,
  state: `sphinx-audit state --journal FILE|DIR [--json]

The signer state the device would recover (snapshot + journal replay, on a copy) as JSON
(bigints as strings, bytes as hex) with its SHA-256 digest (projections/signer-state.ts).`,
  report: `sphinx-audit report --log DIR [--journal FILE|DIR] --out FILE [--json]

Writes one self-contained HTML file (inline CSS and SVG, no script, nothing fetched: it opens
offline): summary numbers, requests over time by message type, the latency histogram, each
channel's timeline (set-up, commitments signed/validated/revoked, closes, sweeps), policy
refusals, and tables by message type and by client; with --journal, the journal's statistics.
Every string from the log is escaped.`,
};

export const fmtHelp = (command: string | undefined): string => (command !== undefined && HELP[command] !== undefined ? HELP[command]! : TOOL);

/**
 * Command line of bin/sphinx-hsmd. lightningd runs it twice: `--version` at start-up
 * (must print its own version, docs/hsmd-protocol.md#version-check) and as the hsmd subdaemon with
 * `[--log-io] [--log-trace] [--dev-debug-self] [--developer]` (subd.c). The --version
 * path imports nothing heavy; the daemon is loaded only when needed.
 */
import { resolve } from 'node:path';
import type { PolicyConfig } from '../signer/policy/policy.js';
import { CONFIG_FILE, ConfigError, dataDirOf, flag, loadSettings, policyOf, remoteOf, SETTINGS, type Settings, signerKindOf, statusPageOf } from './config.js';
import type { Logger } from './log.js';
import type { SignerPort } from './signer-port.js';
import { VersionUnknown, lightningdVersion } from './version.js';
import { writeStdio } from './stdio.js';
import { packageVersion } from '../node/package-version.js';
import { privateStateDir } from '../node/private-dir.js';
import { compileBaselineAtFirstCall } from '../node/baseline-code.js';

const usage = (): string => `sphinx-hsmd ${packageVersion()}
usage: sphinx-hsmd [--version | --help]
       sphinx-hsmd [--log-io] [--log-trace] [--dev-debug-self] [--developer]

A drop-in hsmd for Core Lightning: lightningd starts it with
  lightningd --subdaemon=hsmd:/absolute/path/to/bin/sphinx-hsmd
(a relative path is resolved against lightningd's subdaemon directory, not the cwd).
It runs in lightningd's network directory and uses hsm_secret there, as CLN's hsmd does.

Options (lightningd passes them; they are not for people):
  --version         print lightningd's version and exit, as lightningd requires of its hsmd
                    (see SPHINX_CLN_VERSION); sphinx-hsmd's own version is on the first line above
  --help            this text
  --log-io          log at trace level too (CLN: also logs IO)
  --log-trace       log at trace level too
  --developer       developer mode: allows hsmd_dev_preinit, hsmd_dev_memleak and the
                    dev_force_* init fields, as CLN's --developer does
  --dev-debug-self  accepted and ignored
Unknown arguments are logged and ignored.

Settings (environment variables, or KEY=value lines in ./sphinx.conf; the environment wins):
${Object.entries(SETTINGS).map(([key, what]) => `  ${key.padEnd(36)} ${what}`).join('\n')}
`;

/** Flags lightningd passes to every subdaemon (lightningd/subd.c subd()). */
const KNOWN_FLAGS = ['--log-io', '--log-trace', '--dev-debug-self', '--developer'] as const;

export async function main(args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    writeStdio(1, usage());
    return;
  }
  if (args.includes('--version')) {
    try {
      writeStdio(1, lightningdVersion({ ...env, ...settingsForVersion(env) }) + '\n');
    } catch (err) {
      if (!(err instanceof VersionUnknown)) throw err;
      writeStdio(
        2,
        `sphinx-hsmd ${packageVersion()}: cannot tell lightningd's version: ${err.message}\n` +
          'Set SPHINX_CLN_VERSION to the output of `lightningd --version` (e.g. v25.12.1).\n',
      );
      process.exitCode = 1;
    }
    return;
  }

  compileBaselineAtFirstCall();
  // A wrong setting is reported through lightningd (runHsmd's startupError), not just stderr.
  let settings: Settings = {};
  let policy: PolicyConfig | undefined;
  let signerKind: 'remote' | 'local' = 'remote';
  let remote: ReturnType<typeof remoteOf> | undefined;
  let statusPage: ReturnType<typeof statusPageOf>;
  let startupError: string | undefined;
  let [logStderr, acceptJournalRollback] = [false, false];
  const settingWarnings: string[] = [];
  try {
    settings = loadSettings(env, process.cwd(), (warning) => settingWarnings.push(warning));
    policy = policyOf(settings);
    signerKind = signerKindOf(settings);
    statusPage = statusPageOf(settings);
    logStderr = flag(settings, 'SPHINX_LOG_STDERR');
    acceptJournalRollback = flag(settings, 'SPHINX_ACCEPT_JOURNAL_ROLLBACK');
    if (signerKind === 'remote') remote = remoteOf(settings);
    else {
      const unused = (Object.keys(SETTINGS) as (keyof typeof SETTINGS)[]).filter((k) => settings[k] && SETTINGS[k].startsWith('remote'));
      if (unused.length > 0) settingWarnings.push(`${unused.join(', ')} set, but ignored with SPHINX_SIGNER=local (they are for a device over MQTT)`);
    }
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    startupError = `${err.message} (settings: the environment or ${resolve(CONFIG_FILE)}; sphinx-hsmd --help lists them)`;
    settings = settingsForVersion(env);
  }
  const developer = args.includes('--developer');
  const dataDir = dataDirOf(settings);
  const hsmSecretPath = resolve('hsm_secret'); // hsmd.c opens "hsm_secret" in the cwd

  /** Where devices connect (remote), as the listeners are: the status page shows them. */
  let deviceUrls: readonly string[] | undefined;
  const openSigner = async (log: Logger): Promise<SignerPort> => {
    // One broker per data directory: its journal or broker log has one writer (docs/journal.md "Locks").
    const { lockDir, staleLockNote } = await import('../node/dir-lock.js');
    try {
      privateStateDir(dataDir);
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new Error(`SPHINX_DATA_DIR ${dataDir}: cannot use it as the state directory (${why}): give a directory (created if missing; default ./sphinx)`);
    }
    const note = staleLockNote(lockDir(dataDir, 'sphinx-hsmd'));
    if (note) log.log('unusual', note);
    if (remote) {
      // The policy runs on the device, which has its own settings.
      const { openRemoteSigner } = await import('./remote/open-remote.js');
      const opened = await openRemoteSigner(remote, (level, text) => log.log(level, text));
      deviceUrls = opened.deviceUrls;
      return opened.signer;
    }
    const { createLocalSigner } = await import('./local-signer.js');
    return createLocalSigner({ dataDir, hsmSecretPath, developer, policy: policy!, acceptRollback: acceptJournalRollback, log: (level, text) => log.log(level, text) });
  };

  const { runHsmd } = await import('./hsmd.js');
  await runHsmd({
    version: () => lightningdVersion({ ...env, ...settings }),
    trace: args.includes('--log-trace') || args.includes('--log-io'),
    logStderr,
    ignoredArgs: args.filter((a) => !(KNOWN_FLAGS as readonly string[]).includes(a)),
    settingWarnings,
    startupError,
    openSigner: async (log) => {
      const signer = await openSigner(log);
      if (!statusPage) return signer;
      // Started with the signer (at lightningd's init): before it there is nothing to show.
      const { withStatusPage } = await import('./status-page.js');
      return withStatusPage(signer, {
        ...statusPage,
        dataDir,
        mode: signerKind,
        mqtt: deviceUrls,
        logDir: remote ? (await import('../log/broker-log/broker-log.js')).brokerLogDir(remote.dataDir) : undefined,
        log: (level, text) => log.log(level, text),
      });
    },
  });
}

/** --version must answer even with a broken sphinx.conf (that is reported at start-up). */
function settingsForVersion(env: NodeJS.ProcessEnv): Settings {
  try {
    return loadSettings(env);
  } catch {
    return {};
  }
}

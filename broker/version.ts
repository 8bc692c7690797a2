/**
 * Which version string to claim. lightningd checks it twice: `sphinx-hsmd --version` must
 * print exactly its own version() and a newline (test_subdaemons, else exit 10), and
 * status_version must equal it (else lightningd re-execs itself). docs/hsmd-protocol.md#status-channel, docs/hsmd-protocol.md#version-check.
 *
 * SPHINX_CLN_VERSION wins; otherwise we ask the parent process, which is lightningd when
 * lightningd started us: `$(readlink /proc/$PPID/exe) --version`, first line.
 * Kept free of heavy imports: lightningd runs `--version` at every start.
 */
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';

export class VersionUnknown extends Error {
  override readonly name = 'VersionUnknown';
}

/** lightningd's version string; throws VersionUnknown with advice if it cannot be found. */
export function lightningdVersion(env: NodeJS.ProcessEnv = process.env, ppid: number = process.ppid): string {
  const configured = env['SPHINX_CLN_VERSION'];
  if (configured) return configured;
  let exe: string;
  try {
    exe = readlinkSync(`/proc/${ppid}/exe`);
  } catch (err) {
    throw new VersionUnknown(`cannot read /proc/${ppid}/exe (${(err as Error).message})`);
  }
  let out: string;
  try {
    out = execFileSync(exe, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (err) {
    throw new VersionUnknown(`\`${exe} --version\` failed (${(err as Error).message})`);
  }
  const first = out.split('\n', 1)[0]!.trim();
  // CLN's version() is a git-describe string, never with spaces: anything else (a shell's
  // banner when run by hand) means our parent is not lightningd.
  if (!first || /\s/.test(first)) {
    throw new VersionUnknown(`parent ${exe} is not lightningd (its --version printed "${first}")`);
  }
  return first;
}

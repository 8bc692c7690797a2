/** This project's own version (package.json): the --version of sphinx-signer, sphinx-audit and sphinx-ctl, and sphinx-hsmd's --help (its --version prints lightningd's). */
import { readFileSync } from 'node:fs';

export function packageVersion(): string {
  const url = new URL('../../package.json', import.meta.url); // from dist/node/
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

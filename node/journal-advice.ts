/**
 * What to tell the owner of a journal that cannot be used (JournalCorruptError,
 * JournalRollbackError): shared by the broker's in-process signer and sphinx-signer, both of
 * which refuse to sign then.
 */
import type { JournalCorruptError } from '../log/journal/frame.js';
import type { JournalRollbackError } from '../log/journal/high-water.js';

export const corruptJournalAdvice = (e: JournalCorruptError, dataDir: string): string =>
  `${e.message}. Refusing to sign with a state that cannot be rebuilt. ` +
  `Keep the file for inspection and move it aside (e.g. mv ${dataDir} ${dataDir}.corrupt), ` +
  'then restart: the signer starts without channel history and its history policies skip until it has some.';

export const rollbackAdvice = (e: JournalRollbackError, wayOut: string): string =>
  `${e.message}. Refusing to sign. Put the newest journal back (with its snapshot files) and restart; ` +
  `only if it is lost for good, restart with ${wayOut} to sign from this journal as it is ` +
  `(docs/broker-log.md "The operator's way out").`;

/**
 * What to tell the owner of a journal that cannot be used (JournalCorruptError): shared by
 * the broker's in-process signer and sphinx-signer, both of which refuse to sign then.
 */
import type { JournalCorruptError } from '../log/journal/frame.js';

export const corruptJournalAdvice = (e: JournalCorruptError, dataDir: string): string =>
  `${e.message}. Refusing to sign with a state that cannot be rebuilt. ` +
  `Keep the file for inspection and move it aside (e.g. mv ${dataDir} ${dataDir}.corrupt), ` +
  'then restart: the signer starts without channel history and its history policies skip until it has some.';

/**
 * The `hsm_secret` file: detect its form, unlock it to `secret_data`, create a new one.
 * Follows common/hsm_secret.c (v25.12.1) and docs/hsmd-protocol.md#hsm_secret-formats:
 * - 32 bytes: plain legacy secret; secret_data = the file.
 * - 73 bytes: legacy libsodium-encrypted secret (Argon2id + XChaCha20-Poly1305 secretstream).
 *   Not supported here (Argon2id MODERATE needs 256 MiB); the error says how to convert it.
 * - other lengths > 32: 32-byte passphrase check ‖ BIP 39 mnemonic (no NUL, no newline);
 *   secret_data = the 64-byte BIP 39 seed.
 * Errors carry CLN's enum hsm_secret_error code and message, which hsmd_init_reply_failure
 * (type 115) sends back to lightningd.
 */
import { equal } from '../bytes.js';
import { sha256 } from '../crypto/hashes.js';
import { entropyToMnemonic, isValidMnemonic, mnemonicToSeed, textBytes } from './bip39.js';

/** enum hsm_secret_type (common/hsm_secret.h); sent in the init reply's TLV 1. */
export const HsmSecretTypeCode = {
  plain: 0,
  encrypted: 1,
  mnemonic: 2, // HSM_SECRET_MNEMONIC_NO_PASS
  'mnemonic-with-passphrase': 3, // HSM_SECRET_MNEMONIC_WITH_PASS
} as const;

/** enum hsm_secret_error (common/hsm_secret.h). */
export const HsmSecretErrorCode = {
  OK: 0,
  PASSPHRASE_REQUIRED: 1,
  PASSPHRASE_NOT_NEEDED: 2,
  WRONG_PASSPHRASE: 3,
  INVALID_MNEMONIC: 4,
  ENCRYPTION_FAILED: 5,
  SEED_DERIVATION_FAILED: 6,
  INVALID_FORMAT: 7,
  TERMINAL: 8,
} as const;
export type HsmSecretErrorCode = (typeof HsmSecretErrorCode)[keyof typeof HsmSecretErrorCode];

/** hsm_secret_error_str (common/hsm_secret.c), verbatim. */
export function hsmSecretErrorString(code: number): string {
  return (
    [
      'Success',
      'Passphrase required but not provided',
      'Passphrase provided but not needed',
      'Wrong passphrase',
      'Invalid mnemonic',
      'Encryption failed',
      'Could not derive seed from mnemonic',
      'Invalid hsm_secret format',
      'Terminal error',
    ][code] ?? 'Unknown error'
  );
}

/**
 * A failure to unlock hsm_secret, with CLN's code. `message` is hsm_secret_error_str(code)
 * plus, where useful, what to do; `clnMessage` is the init_reply_failure text of hsmd's
 * load_hsm: "Failed to load hsm_secret: " + message (CLN never adds a detail).
 */
export class HsmSecretError extends Error {
  override readonly name = 'HsmSecretError';
  readonly code: HsmSecretErrorCode;
  constructor(code: HsmSecretErrorCode, detail?: string) {
    super(detail ? `${hsmSecretErrorString(code)}. ${detail}` : hsmSecretErrorString(code));
    this.code = code;
  }

  /** load_hsm: "Wrong passphrase is user error, not internal error - exit cleanly". */
  get wrongPassphrase(): boolean {
    return this.code === HsmSecretErrorCode.WRONG_PASSPHRASE;
  }

  get clnMessage(): string {
    return 'Failed to load hsm_secret: ' + this.message;
  }
}

/** ENCRYPTED_HSM_SECRET_LEN: 24-byte secretstream header + 32-byte secret + 17-byte tag. */
export const ENCRYPTED_HSM_SECRET_LEN = 73;

export type ParsedHsmSecret =
  | { type: 'plain'; secret: Uint8Array }
  | { type: 'encrypted'; header: Uint8Array; ciphertext: Uint8Array }
  | { type: 'mnemonic' | 'mnemonic-with-passphrase'; passphraseCheck: Uint8Array; mnemonicBytes: Uint8Array; mnemonic: string };

/** The user-facing way out of the legacy encrypted form (tools/lightning-hsmtool.c decrypt_hsm). */
export const ENCRYPTED_FORM_HINT =
  'This is the legacy 73-byte encrypted hsm_secret, which this signer cannot decrypt. Convert it ' +
  'once with Core Lightning\'s tool: `lightning-hsmtool decrypt <path/to/hsm_secret>` (it asks ' +
  'for the passphrase and rewrites the file as the plain 32-byte secret; the node id and wallet ' +
  'stay the same). Keep a backup of the encrypted file until the node runs again.';

/** detect_hsm_secret_type + the mnemonic split of extract_mnemonic_secret. */
export function parseHsmSecret(file: Uint8Array): ParsedHsmSecret {
  // CLN's exact text: no detail on errors CLN itself produces (init_reply_failure bytes).
  if (file.length < 32) throw new HsmSecretError(HsmSecretErrorCode.INVALID_FORMAT);
  if (file.length === 32) return { type: 'plain', secret: file.slice() };
  if (file.length === ENCRYPTED_HSM_SECRET_LEN) {
    return { type: 'encrypted', header: file.slice(0, 24), ciphertext: file.slice(24) };
  }
  const passphraseCheck = file.slice(0, 32);
  // tal_strndup: the mnemonic text ends at the first NUL, if any.
  let end = 32;
  while (end < file.length && file[end] !== 0) end++;
  const mnemonicBytes = file.slice(32, end);
  let mnemonic = '';
  for (const b of mnemonicBytes) mnemonic += b < 0x80 ? String.fromCharCode(b) : '\ufffd';
  // memeqzero: an all-zero check means "no passphrase".
  const type = passphraseCheck.every((b) => b === 0) ? 'mnemonic' : 'mnemonic-with-passphrase';
  return { type, passphraseCheck, mnemonicBytes, mnemonic };
}

/** hsm_secret_needs_passphrase. */
export function hsmSecretNeedsPassphrase(file: Uint8Array): boolean {
  if (file.length < 32) return false;
  const t = parseHsmSecret(file).type;
  return t === 'encrypted' || t === 'mnemonic-with-passphrase';
}

/**
 * extract_hsm_secret: secret_data (32 bytes legacy, 64 bytes mnemonic). `passphrase`
 * undefined is CLN's NULL (lightningd sent no passphrase TLV); an empty string is a passphrase.
 * Throws HsmSecretError with CLN's code, checking in CLN's order.
 */
export function unlockHsmSecret(file: Uint8Array, passphrase?: string | Uint8Array): Uint8Array {
  const parsed = parseHsmSecret(file);
  switch (parsed.type) {
    case 'plain':
      return parsed.secret; // extract_plain_secret ignores any passphrase
    case 'encrypted':
      throw new HsmSecretError(
        passphrase === undefined ? HsmSecretErrorCode.PASSPHRASE_REQUIRED : HsmSecretErrorCode.INVALID_FORMAT,
        ENCRYPTED_FORM_HINT,
      );
    case 'mnemonic':
      if (passphrase !== undefined) throw new HsmSecretError(HsmSecretErrorCode.PASSPHRASE_NOT_NEEDED);
      if (!isValidMnemonic(parsed.mnemonicBytes)) throw new HsmSecretError(HsmSecretErrorCode.INVALID_MNEMONIC);
      return mnemonicToSeed(parsed.mnemonicBytes);
    case 'mnemonic-with-passphrase': {
      if (passphrase === undefined) throw new HsmSecretError(HsmSecretErrorCode.PASSPHRASE_REQUIRED);
      // derive_seed_hash: SHA256(bip39 seed) must equal the stored check (before validation).
      const seed = mnemonicToSeed(parsed.mnemonicBytes, passphrase);
      if (!equal(sha256(seed), parsed.passphraseCheck)) throw new HsmSecretError(HsmSecretErrorCode.WRONG_PASSPHRASE);
      if (!isValidMnemonic(parsed.mnemonicBytes)) throw new HsmSecretError(HsmSecretErrorCode.INVALID_MNEMONIC);
      return seed;
    }
  }
}

/**
 * The file hsmd's create_hsm writes for a new node: SHA256(seed) or 32 zero bytes (no
 * passphrase), then the 12-word mnemonic of 16 bytes of entropy, with no terminator.
 * The caller supplies the randomness (CLN: randbytes).
 */
export function createMnemonicHsmSecret(entropy16: Uint8Array, passphrase?: string | Uint8Array): Uint8Array {
  if (entropy16.length !== 16) throw new RangeError('create_hsm uses 16 bytes (BIP39_ENTROPY_LEN_128) of entropy');
  const mnemonic = textBytes(entropyToMnemonic(entropy16));
  const check = passphrase === undefined ? new Uint8Array(32) : sha256(mnemonicToSeed(mnemonic, passphrase));
  const file = new Uint8Array(32 + mnemonic.length);
  file.set(check, 0);
  file.set(mnemonic, 32);
  return file;
}

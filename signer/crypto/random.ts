/**
 * The randomness port. The signer's outputs never depend on it (ECDSA nonces are RFC 6979,
 * BIP 340 nonces take CLN's explicit aux): it only blinds secret-scalar multiplications and
 * nonce inversions inside noble (docs/device-memory.md). Each platform passes its true RNG:
 * the ESP32 its hardware RNG, Node Web Crypto.
 */

/** `length` bytes from a cryptographically secure source. */
export type RandomBytes = (length: number) => Uint8Array;

/**
 * Web Crypto's getRandomValues, looked up when called (never at load: XS has none, and the
 * device must not reach it). Node, Deno and browsers have it.
 */
export const webCryptoRandomBytes: RandomBytes = (length) => {
  const webCrypto = (globalThis as { crypto?: { getRandomValues?: (b: Uint8Array) => Uint8Array } }).crypto;
  if (typeof webCrypto?.getRandomValues !== 'function')
    throw new Error('no crypto.getRandomValues here: pass the platform RNG to createNobleCurve({ randomBytes })');
  return webCrypto.getRandomValues(new Uint8Array(length));
};

/**
 * The port, checked once: it must give `length` fresh bytes. noble would quietly stop
 * blinding on a broken RNG; here it is an error at the first curve operation instead.
 */
export function checkedRandomBytes(randomBytes: RandomBytes): RandomBytes {
  const probe = randomBytes(32);
  if (!(probe instanceof Uint8Array) || probe.length !== 32) throw new Error('the RNG port did not return 32 bytes');
  if (probe.every((b) => b === probe[0])) throw new Error('the RNG port returned 32 equal bytes: not a working RNG');
  return randomBytes;
}

/**
 * How loud an outage of bitcoind is (docs/chain.md "Broker"): Core Lightning's test
 * framework fails a run on any BROKEN line, and a bitcoind restart is routine, so the first
 * failure is UNUSUAL, with what to check; BROKEN only once bitcoind has stayed unreachable
 * for BROKEN_AFTER_MS, as CLN's bcli retries bitcoind for bitcoin-retry-timeout (60 s by
 * default) before it gives up.
 */

export const BROKEN_AFTER_MS = 60_000;

/** An outage under way: since when, and whether it was logged BROKEN yet. */
export interface Outage {
  readonly since: number;
  readonly broken: boolean;
}

export type OutageLevel = 'unusual' | 'broken';

/** A failed call at `now`: the outage it is part of, and the level to log it at, if any. */
export function outageAfterFailure(outage: Outage | undefined, now: number): { outage: Outage; level?: OutageLevel } {
  if (!outage) return { outage: { since: now, broken: false }, level: 'unusual' };
  if (!outage.broken && now - outage.since >= BROKEN_AFTER_MS) return { outage: { ...outage, broken: true }, level: 'broken' };
  return { outage };
}

/** What to check, for the setting the chain source came from (broker/chain/source.ts `origin`). */
export function unreachableFix(origin: string): string {
  const where = origin.startsWith('SPHINX_BITCOIND_URL')
    ? 'SPHINX_BITCOIND_URL points at its RPC port'
    : "lightningd's bitcoin-rpcconnect and bitcoin-rpcport point at its RPC port (or set SPHINX_BITCOIND_URL)";
  return `check that bitcoind runs and that ${where}; SPHINX_CHAIN=off turns chain tracking off`;
}

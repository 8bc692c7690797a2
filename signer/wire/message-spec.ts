/**
 * How one hsmd message is described: its type number and its fields in wire order, keyed by
 * CLN's field names (`hsmd/hsmd_wire.csv` `msgdata` lines) with length fields folded in.
 */
import type { StructSpec } from './codec.js';

export interface MessageSpec<T extends number, F extends StructSpec> {
  readonly type: T;
  readonly fields: F;
}

/** A message spec; keeps the literal type number for the static types. */
export const msg = <T extends number, F extends StructSpec>(type: T, fields: F): MessageSpec<T, F> => ({
  type,
  fields,
});

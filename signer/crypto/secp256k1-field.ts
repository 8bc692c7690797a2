/**
 * secp256k1's field of coordinates, built at load with its square root: noble caches a field's
 * square root in a module-level WeakMap, which takes no entries at run time once the firmware
 * is preloaded; made while this module loads (the linker's run, on the device), the entry is
 * there (docs/device-memory.md "Built by mcconfig").
 */
import { Field } from '@noble/curves/abstract/modular.js';

/** SEC 2 §2.4.1: the field's prime. */
export const P = 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2fn;

export const FP = Field(P);
FP.sqrt(FP.ONE);

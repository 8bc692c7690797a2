/**
 * Both Node processes (bin/sphinx-hsmd, bin/sphinx-signer) have V8 compile each function to
 * baseline machine code (Sparkplug) at its first call, instead of interpreting its bytecode
 * until it has run often enough. A fresh process then spends its first requests in compiled
 * code: the remote path's first pass of a recorded session ran ~20% faster, at no measurable
 * cost in memory (docs/performance.md "Baseline code at first call").
 */
import { setFlagsFromString } from 'node:v8';

/**
 * Functions first called after this get baseline code at once; those already run keep their
 * tier. Call it before the warm start. V8 reads the flag (`--always-sparkplug`) when it compiles
 * a function, so it takes effect in a running process (node/baseline-code.test.ts checks that on
 * this Node); set here rather than on the command line, it holds however the process is started.
 */
export function compileBaselineAtFirstCall(): void {
  setFlagsFromString('--always-sparkplug');
}

/**
 * Writes to the stdout and stderr lightningd shares with us (subd.c leaves fds 1 and 2
 * untouched), without Node's process.stdout/stderr: those make a pipe O_NONBLOCK, and the
 * pipe's open file description is lightningd's too, whose own blocking writes would then
 * fail with EAGAIN. A plain blocking write changes nothing.
 */
import { writeSync } from 'node:fs';

export function writeStdio(fd: 1 | 2, text: string): void {
  const bytes = Buffer.from(text);
  try {
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
  } catch {
    // stdout/stderr closed or unwritable: nowhere left to say so
  }
}

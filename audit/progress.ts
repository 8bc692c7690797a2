/**
 * A progress bar for long audit runs: percentage, records/s and ETA on one line rewritten in
 * place, at most ten times a second. Shown only when the stream is a terminal, unless forced
 * (--progress or SPHINX_AUDIT_PROGRESS=1, for tests and pipes); --no-progress hides it.
 */

export interface ProgressStream {
  readonly isTTY?: boolean;
  write(s: string): unknown;
}

export class Progress {
  readonly #started = performance.now();
  #lastDraw = 0;
  #drawn = false;

  constructor(
    private readonly stream: ProgressStream | undefined,
    private readonly label: string,
    private readonly total: number,
    private readonly unit = 'records',
  ) {}

  update(done: number): void {
    if (!this.stream) return;
    const now = performance.now();
    if (now - this.#lastDraw < 100 && done < this.total) return;
    this.#lastDraw = now;
    const secs = (now - this.#started) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const fraction = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const width = 24;
    const filled = Math.round(fraction * width);
    const eta = rate > 0 && this.total > done ? `ETA ${fmtSecs((this.total - done) / rate)}` : 'ETA 0s';
    this.stream.write(`\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(1)}% ` +
      `${done}/${this.total} ${this.unit} ${Math.round(rate)} ${this.unit}/s ${eta}  `);
    this.#drawn = true;
  }

  done(): void {
    if (this.stream && this.#drawn) this.stream.write('\n');
  }
}

const fmtSecs = (s: number): string => (s >= 60 ? `${Math.floor(s / 60)}m${Math.round(s % 60)}s` : `${Math.ceil(s)}s`);

/** The stream to draw on, or undefined: forced on/off, else when stderr is a terminal. */
export function progressStream(stderr: ProgressStream, flag: boolean | undefined, env: Record<string, string | undefined>): ProgressStream | undefined {
  if (flag === false) return undefined;
  if (flag === true || env['SPHINX_AUDIT_PROGRESS'] === '1') return stderr;
  return stderr.isTTY ? stderr : undefined;
}

/**
 * The Leds port on a terminal (sphinx-signer): one status line, rewritten in place when
 * stdout is a TTY. Otherwise (a log file, journald) a timestamped line per change of the
 * steady state only: the blue "signing" flash of every request is left out there (the
 * request lines tell of requests), so a long run does not log two LED lines per request.
 * Log lines (stderr) are printed above the status line.
 */
import { LED_COLOURS, type LedName } from '../app/leds.js';
import type { Leds } from '../app/ports.js';

/** Shown on a terminal only: it lasts one request. */
const TRANSIENT: ReadonlySet<LedName> = new Set(['signing']);

export class TerminalLeds implements Leds {
  #state: LedName = 'booting';
  #line = '';
  /** The last state written as a line (non-TTY). */
  #logged: LedName | undefined;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly err: NodeJS.WriteStream = process.stderr,
    private readonly now: () => Date = () => new Date(),
  ) {}

  get tty(): boolean {
    return this.out.isTTY === true;
  }

  show(state: LedName): void {
    this.#state = state;
    if (this.tty) return this.#draw(this.#render(state));
    if (TRANSIENT.has(state) || state === this.#logged) return;
    this.#logged = state;
    this.out.write(`${this.stamp()} ${this.#render(state)}\n`);
  }

  blink(state: LedName): void {
    if (!this.tty) {
      this.out.write(`${this.stamp()} LED blink ${state} (${LED_COLOURS[state].name})\n`);
      return;
    }
    this.#draw(this.#render(state));
    setTimeout(() => this.#draw(this.#render(this.#state)), 300).unref();
  }

  /** The time prefix of every line, LED and log alike. */
  stamp(): string {
    return this.now().toISOString();
  }

  /** A log line, above the status line. */
  log(line: string): void {
    if (this.tty && this.#line) this.out.write('\r\x1b[2K');
    this.err.write(line + '\n');
    if (this.tty && this.#line) this.out.write(this.#line);
  }

  #render(state: LedName): string {
    const { rgb, name } = LED_COLOURS[state];
    const swatch = this.tty ? `\x1b[38;2;${rgb[0]};${rgb[1]};${rgb[2]}m●\x1b[0m` : '*';
    return `LED ${swatch} ${state} (${name})`;
  }

  #draw(line: string): void {
    this.#line = line;
    this.out.write(`\r\x1b[2K${line}`);
  }
}

/**
 * The Leds port on a terminal (sphinx-signer): one status line, rewritten in place when
 * stdout is a TTY, plain lines otherwise. Log lines (stderr) are printed above it.
 */
import { LED_COLOURS, type LedName } from '../app/leds.js';
import type { Leds } from '../app/ports.js';

export class TerminalLeds implements Leds {
  #state: LedName = 'booting';
  #line = '';

  constructor(
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly err: NodeJS.WriteStream = process.stderr,
  ) {}

  get tty(): boolean {
    return this.out.isTTY === true;
  }

  show(state: LedName): void {
    this.#state = state;
    this.#draw(this.#render(state));
  }

  blink(state: LedName): void {
    if (!this.tty) {
      this.out.write(`LED blink ${state} (${LED_COLOURS[state].name})\n`);
      return;
    }
    this.#draw(this.#render(state));
    setTimeout(() => this.#draw(this.#render(this.#state)), 300).unref();
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
    if (this.tty) {
      this.#line = line;
      this.out.write(`\r\x1b[2K${line}`);
    } else this.out.write(line + '\n');
  }
}

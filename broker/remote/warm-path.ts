/**
 * The remote path's warm start (docs/remote-protocol.md "Warm start") as a pure state machine:
 * the first time a device says hello in this broker's run, before the session sees that hello,
 * the broker sends the device `warm` messages one at a time, as lightningd sends requests, and
 * the device echoes each on `warmed`. Both processes' MQTT code (aedes here; mqtt.js and the
 * write queue there) is then compiled by V8's optimizing tier before the first request: without
 * it a fresh pair takes thousands of requests to reach its steady speed (docs/performance.md
 * "Warm start").
 *
 * Nothing is decided or kept: the device echoes the bytes without reading them, and neither
 * side logs them. The device's messages for the session wait, in order, while its warm-up
 * runs, so the session sees them as they came. A device that does not echo (older firmware)
 * ends its warm-up after one wait; so does one that went away.
 */
import { equal } from '../../signer/bytes.js';

/** Echoes at most: a fresh pair's one-connection p50 falls for its first ~4,000 requests (bench/remote-path.ts warms 5,000 for that). */
export const WARM_UP_ROUNDS = 5000;
/** One echo takes well under a millisecond on a LAN; a device that has not echoed in this time does not. */
export const ECHO_WAIT_MS = 250;

export interface WarmPathOptions {
  /** Echoes to wait for, at most. 0 turns the warm start off. */
  readonly rounds: number;
  /** Time the warm-up may take, at most, from the hello. */
  readonly budgetMs: number;
  /** How long one echo is waited for before the warm-up ends. */
  readonly echoWaitMs: number;
  /** What is sent, in turn: a recorded session's requests, so the sizes are lightningd's. */
  readonly payloads: readonly Uint8Array[];
}

/** The warm start turned off (SPHINX_WARM_UP_MS=0): every message goes straight to the session. */
export const NO_WARM_START: WarmPathOptions = { rounds: 0, budgetMs: 0, echoWaitMs: 0, payloads: [] };

export type WarmCommand<T> =
  /** Publish `payload` on the device's `warm` topic. */
  | { readonly kind: 'warm'; readonly device: string; readonly payload: Uint8Array }
  /** (Re)arm the device's echo timer: `timedOut` after `ms`. */
  | { readonly kind: 'wait'; readonly device: string; readonly ms: number }
  /** Its warm-up is over: hand these to the session, in this order. */
  | { readonly kind: 'release'; readonly device: string; readonly events: readonly T[] }
  | { readonly kind: 'log'; readonly level: 'info' | 'unusual'; readonly text: string };

interface Run<T> {
  readonly started: number;
  /** Index of the payload whose echo is awaited. */
  next: number;
  echoed: number;
  readonly held: T[];
}

export class WarmPath<T> {
  readonly #runs = new Map<string, Run<T>>();
  /** Devices warmed (or tried) in this run: a later hello goes straight to the session. */
  readonly #done = new Set<string>();

  constructor(private readonly options: WarmPathOptions) {
    if (!Number.isSafeInteger(options.rounds) || options.rounds < 0) throw new RangeError(`warm-up rounds: ${options.rounds}`);
    if (options.rounds > 0 && options.payloads.length === 0) throw new RangeError('warm-up: no payloads');
  }

  /**
   * A device's message for the session (`event`; `hello` says whether it is one). Returns the
   * commands: a release of just this event when nothing holds it, else none (held) or the
   * warm-up's first steps.
   */
  arrived(device: string, hello: boolean, event: T, now: number): WarmCommand<T>[] {
    const run = this.#runs.get(device);
    if (run) {
      run.held.push(event);
      return [];
    }
    if (!hello || this.#done.has(device) || this.options.rounds === 0) return [{ kind: 'release', device, events: [event] }];
    this.#done.add(device);
    this.#runs.set(device, { started: now, next: 0, echoed: 0, held: [event] });
    return this.#send(device, 0);
  }

  /** An echo on `warmed`. Anything but the awaited payload is ignored (a late echo of one given up on). */
  echoed(device: string, payload: Uint8Array, now: number): WarmCommand<T>[] {
    const run = this.#runs.get(device);
    if (!run || !equal(payload, this.#payload(run.next))) return [];
    run.echoed++;
    if (run.echoed >= this.options.rounds || now - run.started >= this.options.budgetMs) {
      return this.#end(device, run, 'info', `warm start with ${device}: ${run.echoed} echoes in ${Math.round(now - run.started)} ms before its hello reaches the session`);
    }
    run.next++;
    return this.#send(device, run.next);
  }

  /** The echo timer ran out. */
  timedOut(device: string, now: number): WarmCommand<T>[] {
    const run = this.#runs.get(device);
    if (!run) return [];
    const why = run.echoed === 0 ? 'it does not echo warm (older firmware, or it went away); requests go to it as they come' : `an echo took over ${this.options.echoWaitMs} ms`;
    return this.#end(device, run, run.echoed === 0 ? 'info' : 'unusual', `warm start with ${device} ended after ${run.echoed} echoes in ${Math.round(now - run.started)} ms: ${why}`);
  }

  #payload(index: number): Uint8Array {
    return this.options.payloads[index % this.options.payloads.length]!;
  }

  #send(device: string, index: number): WarmCommand<T>[] {
    return [
      { kind: 'wait', device, ms: this.options.echoWaitMs },
      { kind: 'warm', device, payload: this.#payload(index) },
    ];
  }

  #end(device: string, run: Run<T>, level: 'info' | 'unusual', text: string): WarmCommand<T>[] {
    this.#runs.delete(device);
    return [
      { kind: 'log', level, text },
      { kind: 'release', device, events: run.held },
    ];
  }
}

/**
 * The status lights as a state machine: a pure transition function over
 * the device's life events, and the colour of each state (the table in firmware/README.md).
 *
 *   booting ─booted→ connecting ─connected→ ready ─request→ signing ─replied→ ready
 *   connecting/ready/signing ─disconnected→ connecting
 *   any ─fatal→ error (stays: the owner must fix something and restart)
 *   connecting/ready/signing ─refused→ retired (stays: the broker refused this device's stale
 *   journal, another device with the seed is active; docs/journal.md "Retiring a device")
 *   ready/signing ─malformed→ unchanged, with an error blink
 */

export type LedName = 'booting' | 'connecting' | 'ready' | 'signing' | 'error' | 'retired';

export type LedEvent = 'booted' | 'connected' | 'disconnected' | 'request' | 'replied' | 'malformed' | 'fatal' | 'refused';

export interface LedStep {
  readonly state: LedName;
  /** A brief flash of this state over `state`. */
  readonly blink?: LedName;
}

const TRANSITIONS: Readonly<Record<LedName, Partial<Record<LedEvent, LedName>>>> = {
  booting: { booted: 'connecting', fatal: 'error' },
  connecting: { connected: 'ready', disconnected: 'connecting', fatal: 'error', refused: 'retired' },
  ready: { request: 'signing', disconnected: 'connecting', fatal: 'error', refused: 'retired' },
  signing: { replied: 'ready', disconnected: 'connecting', fatal: 'error', refused: 'retired' },
  error: {},
  retired: {},
};

/** The next state for an event; events that do not apply leave the state as it is. */
export function nextLed(state: LedName, event: LedEvent): LedStep {
  if (event === 'malformed' && state !== 'error' && state !== 'retired') return { state, blink: 'error' };
  return { state: TRANSITIONS[state][event] ?? state };
}

export interface LedColour {
  /** 0-255 each, for a NeoPixel. */
  readonly rgb: readonly [number, number, number];
  /**
   * Steady, blinking at about 2 Hz, or slowly (1 s on, 1 s off: retired, told apart from
   * connecting on a single GPIO LED, which shows the pattern only).
   */
  readonly pattern: 'steady' | 'blink' | 'slow-blink';
  /** The colour's name, for the terminal and the README. */
  readonly name: string;
}

export const LED_COLOURS: Readonly<Record<LedName, LedColour>> = {
  booting: { rgb: [255, 255, 255], pattern: 'steady', name: 'white' },
  connecting: { rgb: [255, 160, 0], pattern: 'blink', name: 'amber, blinking' },
  ready: { rgb: [0, 255, 0], pattern: 'steady', name: 'green' },
  signing: { rgb: [0, 64, 255], pattern: 'steady', name: 'blue' },
  error: { rgb: [255, 0, 0], pattern: 'steady', name: 'red' },
  retired: { rgb: [160, 0, 255], pattern: 'slow-blink', name: 'violet, blinking slowly' },
};

/**
 * The devices the broker's session knows and which one is active: the part of the session's
 * state that says where requests go (docs/remote-protocol.md "Init", "Rollback"). Plain data,
 * no I/O; broker/remote/session.ts decides the transitions.
 */

/**
 * - `verifying`: said hello; lightningd's init was sent to it to check it holds the same seed;
 * - `ready`: may be the active device;
 * - `refused`: another seed, or a journal behind what the broker log shows answered: gets nothing.
 */
export type DeviceState = 'verifying' | 'ready' | 'refused';

export interface DeviceView {
  readonly id: string;
  readonly state: DeviceState;
  readonly active: boolean;
}

export class DeviceSet {
  /** In the order devices first said hello (a device saying hello again keeps its place). */
  readonly #states = new Map<string, DeviceState>();
  #active: string | undefined;

  /** The device requests go to, if any. */
  get active(): string | undefined {
    return this.#active;
  }

  state(device: string): DeviceState | undefined {
    return this.#states.get(device);
  }

  has(device: string): boolean {
    return this.#states.has(device);
  }

  set(device: string, state: DeviceState): void {
    this.#states.set(device, state);
  }

  /** Makes `device` ready and the one requests go to. */
  activate(device: string): void {
    this.#states.set(device, 'ready');
    this.#active = device;
  }

  /**
   * Forgets `device`. If it was the active one, the ready device that said hello last becomes
   * active (none if there is none); returns that successor, or undefined when `device` was not
   * the active one.
   */
  remove(device: string): { readonly wasActive: boolean; readonly successor: string | undefined } {
    this.#states.delete(device);
    if (this.#active !== device) return { wasActive: false, successor: undefined };
    this.#active = [...this.#states].reverse().find(([, s]) => s === 'ready')?.[0];
    return { wasActive: true, successor: this.#active };
  }

  list(): DeviceView[] {
    return [...this.#states].map(([id, state]) => ({ id, state, active: id === this.#active }));
  }
}

/**
 * The payments policy-payment-velocity counts (policy/payment-rules.ts), as a persistent
 * treap keyed by the second they were authorized at, each node holding the msat of its
 * second and of its subtree. What the rule asks of it is "the msat paid after t" and what
 * the fold does is "drop what is at or before t, add one": each costs O(log n) and shares
 * every untouched node, where an array copied per payment made a rebuild quadratic in the
 * payments of one window (docs/journal.md "Rebuild").
 *
 * Payments of one second are one entry (their sum): every question the rule asks is about
 * seconds, so that loses nothing and bounds the window by its length in seconds.
 * The shape depends only on the content (priorities are a hash of the key, ties broken by
 * the key), so structural equality of two states still means equal windows.
 * Pure and allocation-light: it runs on the device under XS too.
 */

/** Payments counted at one second (unix seconds, the device's clock). */
export interface CountedPayment {
  readonly at: number;
  readonly amountMsat: bigint;
}

interface Node {
  readonly at: number;
  /** The msat authorized at `at`. */
  readonly amountMsat: bigint;
  /** The msat of this node and everything below it. */
  readonly subtreeMsat: bigint;
  readonly left: Node | undefined;
  readonly right: Node | undefined;
}

/** A 32-bit mix of the key (murmur3's finalizer over both halves of a safe integer). */
function priority(at: number): number {
  let h = (at >>> 0) ^ Math.imul(Math.floor(at / 0x1_0000_0000) | 0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Whether a node keyed `a` sits above one keyed `b` (heap order; a total order on keys). */
function above(a: number, b: number): boolean {
  const pa = priority(a);
  const pb = priority(b);
  return pa > pb || (pa === pb && a < b);
}

const node = (at: number, amountMsat: bigint, left: Node | undefined, right: Node | undefined): Node => ({
  at,
  amountMsat,
  subtreeMsat: amountMsat + (left?.subtreeMsat ?? 0n) + (right?.subtreeMsat ?? 0n),
  left,
  right,
});

/** [at or before `key`, after `key`]; a part that did not change is the same node. */
function split(t: Node | undefined, key: number): [Node | undefined, Node | undefined] {
  if (t === undefined) return [undefined, undefined];
  if (t.at <= key) {
    const [low, high] = split(t.right, key);
    return [low === t.right ? t : node(t.at, t.amountMsat, t.left, low), high];
  }
  const [low, high] = split(t.left, key);
  return [low, high === t.left ? t : node(t.at, t.amountMsat, high, t.right)];
}

/** `t` with `amountMsat` more at `at` (a new node if that second has none yet). */
function add(t: Node | undefined, at: number, amountMsat: bigint): Node {
  if (t === undefined) return node(at, amountMsat, undefined, undefined);
  if (t.at === at) return node(at, t.amountMsat + amountMsat, t.left, t.right);
  // A key present below t sits below it in heap order too, so here `at` is new.
  if (above(at, t.at)) {
    const [low, high] = split(t, at);
    return node(at, amountMsat, low, high);
  }
  return at < t.at ? node(t.at, t.amountMsat, add(t.left, at, amountMsat), t.right) : node(t.at, t.amountMsat, t.left, add(t.right, at, amountMsat));
}

function* inOrder(t: Node | undefined): Generator<CountedPayment> {
  if (t === undefined) return;
  yield* inOrder(t.left);
  yield { at: t.at, amountMsat: t.amountMsat };
  yield* inOrder(t.right);
}

const assertSecond = (at: number): void => {
  if (!Number.isSafeInteger(at)) throw new RangeError(`payment window: time ${at} is not a whole number of seconds`);
};

export class PaymentWindow implements Iterable<CountedPayment> {
  static readonly empty = new PaymentWindow(undefined);

  /** The treap. Public on purpose: one shape per content, so deepEqual compares contents. */
  readonly root: Node | undefined;

  private constructor(root: Node | undefined) {
    this.root = root;
  }

  /** A window of these payments (any order; payments of one second add up). */
  static from(payments: Iterable<CountedPayment>): PaymentWindow {
    let window = PaymentWindow.empty;
    for (const p of payments) window = window.add(p.at, p.amountMsat);
    return window;
  }

  /** This window with a payment of `amountMsat` at `at`. */
  add(at: number, amountMsat: bigint): PaymentWindow {
    assertSecond(at);
    return new PaymentWindow(add(this.root, at, amountMsat));
  }

  /** The payments after `since` (this window if there are none at or before it). */
  after(since: number): PaymentWindow {
    const [, high] = split(this.root, since);
    return high === this.root ? this : high === undefined ? PaymentWindow.empty : new PaymentWindow(high);
  }

  /** The msat paid after `since`. */
  totalAfter(since: number): bigint {
    let total = 0n;
    for (let t = this.root; t !== undefined; ) {
      if (t.at > since) {
        total += t.amountMsat + (t.right?.subtreeMsat ?? 0n);
        t = t.left;
      } else {
        t = t.right;
      }
    }
    return total;
  }

  get isEmpty(): boolean {
    return this.root === undefined;
  }

  /** The number of seconds with payments. */
  get size(): number {
    let n = 0;
    for (const _ of this) n++;
    return n;
  }

  /** The payments, one per second, oldest first. */
  [Symbol.iterator](): Iterator<CountedPayment> {
    return inOrder(this.root);
  }
}

/** Seconds between reconnection attempts: a constant, or decorrelated jitter between `base` and `cap`. */
export interface RestartTimeout {
  base: number
  cap: number
}

/**
 * Decorrelated jitter (as in Mosquitto's `restart_timeout base cap`): each delay is drawn between `base` and
 * three times the previous one, capped, so bridges that lost the same remote do not all return at once.
 * With `base === cap` the delay is constant. Delays are in milliseconds.
 */
export class Backoff {
  private previous: number

  constructor(
    private readonly timeout: RestartTimeout,
    private readonly random: () => number = Math.random,
  ) {
    this.previous = timeout.base * 1000
  }

  next(): number {
    const base = this.timeout.base * 1000
    const cap = this.timeout.cap * 1000
    if (cap <= base) return base
    const upper = Math.max(base, this.previous * 3)
    this.previous = Math.min(cap, base + this.random() * (upper - base))
    return this.previous
  }

  /** After a successful connection the next failure starts again from `base`. */
  reset(): void {
    this.previous = this.timeout.base * 1000
  }
}

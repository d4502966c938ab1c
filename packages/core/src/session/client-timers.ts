/** setTimeout's ceiling (~24.8 days): longer waits are re-armed in steps. */
const MAX_TIMER = 2_147_483_647

interface Armed {
  timer: NodeJS.Timeout
  fire: () => void
}

/**
 * One timer per client id (a session's expiry, a will's delay): setting one replaces the client's previous timer,
 * and none keeps the process alive.
 */
export class ClientTimers {
  private readonly armed = new Map<string, Armed>()

  /** Calls `fire` after `ms` unless cleared first. */
  set(clientId: string, ms: number, fire: () => void): void {
    this.clear(clientId)
    this.arm(clientId, ms, fire)
  }

  private arm(clientId: string, ms: number, fire: () => void): void {
    const timer = setTimeout(() => {
      if (ms > MAX_TIMER) return this.arm(clientId, ms - MAX_TIMER, fire)
      this.armed.delete(clientId)
      fire()
    }, Math.min(ms, MAX_TIMER))
    timer.unref()
    this.armed.set(clientId, { timer, fire })
  }

  /** Stops the client's timer; returns whether one was running. */
  clear(clientId: string): boolean {
    const armed = this.armed.get(clientId)
    if (!armed) return false
    clearTimeout(armed.timer)
    this.armed.delete(clientId)
    return true
  }

  /** Fires the client's timer now, if one is running. */
  fireNow(clientId: string): void {
    const armed = this.armed.get(clientId)
    if (!armed) return
    this.clear(clientId)
    armed.fire()
  }

  /** Broker shutdown: every timer goes, so the process can exit. */
  clearAll(): void {
    for (const { timer } of this.armed.values()) clearTimeout(timer)
    this.armed.clear()
  }
}

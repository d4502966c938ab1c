import { type BrokerCore, reportStoreError } from '../core.js'
import type { Distributor } from '../router/distribute.js'
import type { Message } from '../types.js'

/** setTimeout's ceiling (~24.8 days): longer delays are capped (a will delay never outlasts its session anyway). */
const MAX_TIMER = 2_147_483_647

/** Wills: published when a connection ends without DISCONNECT, or after MQTT 5's will delay unless the client returns. */
export class Wills {
  private readonly delayed = new Map<string, { timer: NodeJS.Timeout; will: Message }>()

  constructor(
    private readonly core: BrokerCore,
    private readonly distributor: Distributor,
  ) {}

  /** Publishes `will` after `seconds`, unless the session resumes first. */
  delay(clientId: string, will: Message, seconds: number): void {
    const timer = setTimeout(() => {
      this.delayed.delete(clientId)
      this.publish(clientId, will)
    }, Math.min(seconds * 1000, MAX_TIMER))
    timer.unref()
    this.delayed.set(clientId, { timer, will })
  }

  /** [MQTT-3.1.2-8] the client is back within the will delay: its will is not published, here or after a restart. */
  cancel(clientId: string): void {
    const pending = this.delayed.get(clientId)
    if (!pending) return
    clearTimeout(pending.timer)
    this.delayed.delete(clientId)
    this.forget(clientId)
  }

  /** The session ends before the will delay does: a will still waiting goes out now. */
  publishNow(clientId: string): void {
    const pending = this.delayed.get(clientId)
    if (!pending) return
    clearTimeout(pending.timer)
    this.delayed.delete(clientId)
    this.publish(clientId, pending.will)
  }

  publish(clientId: string, stored: Message): void {
    const interval = stored.properties?.messageExpiryInterval
    // [MQTT-3.1.3-9] a will's expiry runs from its publication
    const will = interval === undefined ? stored : { ...stored, expiresAt: Date.now() + interval * 1000 }
    this.distributor.route(will, null, (error) => {
      if (error) reportStoreError(this.core, error)
      this.forget(clientId)
    })
  }

  /** The stored will goes: it was published, or must never be. */
  forget(clientId: string): void {
    void this.core.persistence.willDelete(clientId).catch((error: unknown) => reportStoreError(this.core, error))
  }

  /** Broker shutdown: every timer goes, so the process can exit. */
  stop(): void {
    for (const { timer } of this.delayed.values()) clearTimeout(timer)
    this.delayed.clear()
  }
}

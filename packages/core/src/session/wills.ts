import { type BrokerCore, reportStoreError } from '../core.js'
import type { Distributor } from '../router/distribute.js'
import type { Message } from '../types.js'
import { ClientTimers } from './client-timers.js'

/** Wills: published when a connection ends without DISCONNECT, or after MQTT 5's will delay unless the client returns. */
export class Wills {
  private readonly delayed = new ClientTimers()

  constructor(
    private readonly core: BrokerCore,
    private readonly distributor: Distributor,
  ) {}

  /**
   * A connection that left a will ended: after its DISCONNECT the will goes unpublished; otherwise it is published
   * now, or after its delay when the session outlives the connection (`sessionExpiry` seconds; null when the session
   * ended with it), whichever of the two ends first.
   */
  connectionEnded(clientId: string, will: Message, graceful: boolean, delaySeconds: number, sessionExpiry: number | null): void {
    if (graceful) this.forget(clientId)
    else if (delaySeconds > 0 && sessionExpiry !== null) this.delay(clientId, will, Math.min(delaySeconds, sessionExpiry))
    else this.publish(clientId, will)
  }

  /** Publishes `will` after `seconds`, unless the session resumes first. */
  delay(clientId: string, will: Message, seconds: number): void {
    this.delayed.set(clientId, seconds * 1000, () => this.publish(clientId, will))
  }

  /** [MQTT-3.1.2-8] the client is back within the will delay: its will is not published, here or after a restart. */
  cancel(clientId: string): void {
    if (this.delayed.clear(clientId)) this.forget(clientId)
  }

  /** The session ends before the will delay does: a will still waiting goes out now. */
  publishNow(clientId: string): void {
    this.delayed.fireNow(clientId)
  }

  publish(clientId: string, stored: Message): void {
    const interval = stored.properties?.messageExpiryInterval
    // [MQTT-3.1.3-9] a will's expiry runs from its publication
    const will = interval === undefined ? stored : { ...stored, expiresAt: Date.now() + interval * 1000 }
    const storing = this.distributor.route(will, null)
    if (storing === null) this.forget(clientId)
    else {
      storing.then(
        () => this.forget(clientId),
        (error: unknown) => {
          reportStoreError(this.core, error)
          this.forget(clientId)
        },
      )
    }
  }

  /** The stored will goes: it was published, or must never be. */
  forget(clientId: string): void {
    void this.core.persistence.willDelete(clientId).catch((error: unknown) => reportStoreError(this.core, error))
  }

  /** Broker shutdown: every timer goes, so the process can exit. */
  stop(): void {
    this.delayed.clearAll()
  }
}

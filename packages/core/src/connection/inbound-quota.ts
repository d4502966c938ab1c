/**
 * The broker's Receive Maximum as a client must keep it [MQTT-3.3.4-9]: QoS 1/2 publishes the client sent whose
 * exchange has not ended yet. A slot is taken when the PUBLISH arrives and given back when the exchange ends:
 * PUBACK, a PUBREC with an error code [MQTT-4.3.3-4], PUBCOMP, or a resent QoS 2 PUBLISH found to belong to an
 * exchange already counted.
 */
export class InboundQuota {
  private used = 0

  constructor(private readonly max: number) {}

  /** A QoS 1/2 PUBLISH arrived: false when the client has now gone over Receive Maximum. */
  take(): boolean {
    return ++this.used <= this.max
  }

  release(): void {
    if (this.used > 0) this.used--
  }
}

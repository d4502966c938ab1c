import type { IPublishPacket } from 'mqtt-packet'

/**
 * Called once the peer has acknowledged a QoS 1/2 publish (PUBACK, PUBCOMP) or refused it (reason code >= 0x80),
 * with the token the publish was given: one function per session, no closure per message.
 */
export type Acked<T> = (token: T, reasonCode: number) => void

interface OutgoingEntry<T> {
  packet: IPublishPacket
  /**
   * 'pubrel': a QoS 2 message the peer has (PUBREC received), waiting for PUBCOMP. 'held': sent on an earlier
   * connection, waiting to be resent until the peer's (smaller) Receive Maximum leaves room for it.
   */
  stage: 'publish' | 'pubrel' | 'held'
  token: T
}

/**
 * One side's MQTT session state as a client keeps it, outliving each network connection: QoS 1/2 messages sent
 * and not yet acknowledged (resent with DUP after a reconnect [MQTT-4.4.0-1]), and QoS 2 messages received
 * and not yet released (so a resent PUBLISH is not passed on twice [MQTT-4.3.3-9]).
 */
export class LinkSession<T> {
  private readonly outgoing = new Map<number, OutgoingEntry<T>>()
  /** Packet id of a received QoS 2 message -> whether it was acknowledged (PUBREC sent) yet. */
  readonly incoming = new Map<number, boolean>()
  private lastId = 0
  private held = 0
  /** The peer's Receive Maximum: QoS 1/2 publishes in flight at once. */
  receiveMaximum = 65535

  constructor(private readonly acked: Acked<T>) {}

  get inflight(): number {
    return this.outgoing.size
  }

  get full(): boolean {
    return this.outgoing.size >= this.receiveMaximum
  }

  /** Gives the packet an id and remembers it until acknowledged. */
  add(packet: IPublishPacket, token: T): IPublishPacket {
    let id = this.lastId
    do id = id >= 0xffff ? 1 : id + 1
    while (this.outgoing.has(id))
    this.lastId = id
    packet.messageId = id
    this.outgoing.set(id, { packet, stage: 'publish', token })
    return packet
  }

  /** PUBACK or PUBCOMP, or a refusing PUBREC: the exchange is over. Returns a held message now to be resent. */
  complete(id: number, reasonCode: number): IPublishPacket | undefined {
    const entry = this.outgoing.get(id)
    if (!entry) return undefined
    this.outgoing.delete(id)
    this.acked(entry.token, reasonCode)
    if (this.held === 0) return undefined
    for (const next of this.outgoing.values()) {
      if (next.stage !== 'held') continue
      next.stage = 'publish'
      this.held--
      return next.packet
    }
    return undefined
  }

  /** PUBREC accepted: from now on the PUBREL is what gets resent. Returns false for an unknown id. */
  received(id: number): boolean {
    const entry = this.outgoing.get(id)
    if (!entry) return false
    entry.stage = 'pubrel'
    return true
  }

  /**
   * What to send again after reconnecting, in the original order, within the peer's Receive Maximum (the rest
   * is held until acknowledgements make room). Without a session on the peer's side, released QoS 2 messages
   * are done (the peer has them) and the rest are resent as they are.
   */
  resume(sessionPresent: boolean): Array<{ cmd: 'publish'; packet: IPublishPacket } | { cmd: 'pubrel'; messageId: number }> {
    if (!sessionPresent) this.incoming.clear()
    const resend: Array<{ cmd: 'publish'; packet: IPublishPacket } | { cmd: 'pubrel'; messageId: number }> = []
    let room = this.receiveMaximum
    this.held = 0
    for (const [id, entry] of [...this.outgoing]) {
      if (entry.stage === 'pubrel') {
        if (!sessionPresent) {
          this.outgoing.delete(id)
          this.acked(entry.token, 0)
          continue
        }
        resend.push({ cmd: 'pubrel', messageId: id })
      } else if (room > 0) {
        entry.stage = 'publish'
        entry.packet.dup = true
        resend.push({ cmd: 'publish', packet: entry.packet })
      } else {
        entry.stage = 'held'
        entry.packet.dup = true
        this.held++
      }
      room--
    }
    return resend
  }

  /** Forgets everything: the session now belongs to another node. */
  reset(): void {
    this.outgoing.clear()
    this.incoming.clear()
    this.held = 0
  }
}

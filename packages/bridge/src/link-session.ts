import type { IPublishPacket } from 'mqtt-packet'

/**
 * Called once the peer has acknowledged a QoS 1/2 publish (PUBACK, PUBCOMP) or refused it (reason code >= 0x80),
 * with the token the publish was given: one function per session, no closure per message.
 */
export type Acked<T> = (token: T, reasonCode: number) => void

interface OutgoingEntry<T> {
  packet: IPublishPacket
  /** 'pubrel': a QoS 2 message the peer has (PUBREC received), waiting for PUBCOMP. */
  stage: 'publish' | 'pubrel'
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

  /** PUBACK or PUBCOMP, or a refusing PUBREC: the exchange is over. */
  complete(id: number, reasonCode: number): void {
    const entry = this.outgoing.get(id)
    if (!entry) return
    this.outgoing.delete(id)
    this.acked(entry.token, reasonCode)
  }

  /** PUBREC accepted: from now on the PUBREL is what gets resent. Returns false for an unknown id. */
  received(id: number): boolean {
    const entry = this.outgoing.get(id)
    if (!entry) return false
    entry.stage = 'pubrel'
    return true
  }

  /**
   * What to send again after reconnecting, in the original order. Without a session on the peer's side,
   * released QoS 2 messages are done (the peer has them) and the rest are resent as they are.
   */
  resume(sessionPresent: boolean): Array<{ cmd: 'publish'; packet: IPublishPacket } | { cmd: 'pubrel'; messageId: number }> {
    if (!sessionPresent) this.incoming.clear()
    const resend: Array<{ cmd: 'publish'; packet: IPublishPacket } | { cmd: 'pubrel'; messageId: number }> = []
    for (const [id, entry] of [...this.outgoing]) {
      if (entry.stage === 'publish') {
        entry.packet.dup = true
        resend.push({ cmd: 'publish', packet: entry.packet })
      } else if (sessionPresent) resend.push({ cmd: 'pubrel', messageId: id })
      else this.complete(id, 0)
    }
    return resend
  }

  /** Forgets everything: the session now belongs to another node. */
  reset(): void {
    this.outgoing.clear()
    this.incoming.clear()
  }
}

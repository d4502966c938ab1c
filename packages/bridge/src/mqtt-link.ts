import {
  generate,
  parser as createParser,
  type IConnackPacket,
  type IConnectPacket,
  type IPublishPacket,
  type ISubackPacket,
  type ISubscription,
  type IUnsubackPacket,
  type Packet,
} from 'mqtt-packet'
import type { Duplex } from 'node:stream'
import { encodeAck, encodePublishV4 } from '@wren/core'
import type { LinkSession } from './link-session.js'

export type LinkVersion = 3 | 4 | 5

/** What the owner of a link is told. */
export interface LinkHandlers {
  /** An incoming PUBLISH; for QoS 1/2 call `link.acknowledge(packet)` once it is safely passed on. */
  message(packet: IPublishPacket): void
  /** The peer can take more bytes again after `link.congested` was true. */
  drain(): void
  /** The connection ended; `reasonCode` is set when the server said why (v5 DISCONNECT). */
  closed(reason: string, reasonCode: number | undefined): void
}

/** A CONNECT the server answered with a refusal: `returnCode` is the v3 code or the v5 reason code. */
export class ConnectRefused extends Error {
  override name = 'ConnectRefused'
  constructor(readonly returnCode: number) {
    super(`connection refused with code ${returnCode}`)
  }
}

const PINGS_MISSED_BEFORE_CLOSE = 2

function uncork(link: MqttLink<unknown>): void {
  link.flush()
}

/**
 * The client end of one MQTT connection over any stream (a socket to a remote broker, or one side of
 * `duplexPair()` handed to the local broker), built on mqtt-packet. It leaves reliability decisions to its
 * owner: incoming QoS 1/2 publishes are acknowledged only when told to, so an ack can wait for the other side
 * of a bridge; QoS 1/2 state lives in a `LinkSession` that outlives the connection.
 */
export class MqttLink<T> {
  private readonly parser: ReturnType<typeof createParser>
  private connackWaiter: ((packet: IConnackPacket | Error) => void) | null = null
  private readonly waiters = new Map<number, { resolve: (packet: ISubackPacket | IUnsubackPacket) => void; reject: (error: Error) => void }>()
  private lastControlId = 0
  private pingTimer: NodeJS.Timeout | null = null
  private pingsUnanswered = 0
  private sentSinceTick = false
  private ended = false
  private corked = false
  /** The peer's Maximum Packet Size (v5 CONNACK), 0 = none said. */
  maxPacketSize = 0

  constructor(
    private readonly stream: Duplex,
    readonly version: LinkVersion,
    readonly session: LinkSession<T>,
    private readonly handlers: LinkHandlers,
  ) {
    this.parser = createParser({ protocolVersion: version })
    this.parser.on('packet', (packet: Packet) => this.onPacket(packet))
    this.parser.on('error', (error: Error) => this.end(`malformed packet from the server: ${error.message}`))
    // Once ended (a polite DISCONNECT leaves the stream readable), nothing more is passed on: a late delivery
    // stays unacknowledged in the peer's session instead of reaching an owner that has moved on
    stream.on('data', (chunk: Buffer) => this.ended || this.parser.parse(chunk))
    stream.on('drain', () => handlers.drain())
    stream.on('error', (error: Error) => this.end(error.message))
    stream.on('close', () => this.end('connection closed'))
  }

  get open(): boolean {
    return !this.ended
  }

  /** The stream is holding more than its buffer: stop feeding it until `drain`. */
  get congested(): boolean {
    return this.stream.writableNeedDrain
  }

  /** Sends CONNECT; resolves with an accepting CONNACK, rejects with ConnectRefused or when the stream ends. */
  connect(packet: IConnectPacket): Promise<IConnackPacket> {
    return new Promise((resolve, reject) => {
      this.connackWaiter = (answer) => {
        if (answer instanceof Error) return reject(answer)
        const code = this.version === 5 ? (answer.reasonCode ?? 0) : (answer.returnCode ?? 0)
        if (code !== 0) {
          reject(new ConnectRefused(code))
          this.end('connection refused')
          return
        }
        this.afterConnack(answer, packet.keepalive ?? 0)
        resolve(answer)
      }
      this.write(packet)
    })
  }

  private afterConnack(connack: IConnackPacket, keepalive: number): void {
    const props = connack.properties
    // Absent means 65535 [MQTT-3.2.2.3.3]; a value from an earlier connection does not carry over
    this.session.receiveMaximum = props?.receiveMaximum ?? 65535
    if (props?.maximumPacketSize !== undefined) this.maxPacketSize = props.maximumPacketSize
    const serverKeepalive = props?.serverKeepAlive ?? keepalive
    if (serverKeepalive > 0) this.pingTimer = setInterval(() => this.keepaliveTick(), serverKeepalive * 1000)
    for (const resend of this.session.resume(connack.sessionPresent)) {
      if (resend.cmd === 'publish') this.write(resend.packet)
      else this.write({ cmd: 'pubrel', messageId: resend.messageId })
    }
  }

  private keepaliveTick(): void {
    if (this.pingsUnanswered >= PINGS_MISSED_BEFORE_CLOSE) {
      this.end('keepalive timeout')
      return
    }
    if (this.sentSinceTick && this.pingsUnanswered === 0) {
      this.sentSinceTick = false
      return
    }
    this.pingsUnanswered++
    this.write({ cmd: 'pingreq' })
    this.sentSinceTick = false
  }

  subscribe(subscriptions: ISubscription[]): Promise<number[]> {
    const messageId = this.controlId()
    return this.request({ cmd: 'subscribe', messageId, subscriptions }, messageId).then((packet) => (packet as ISubackPacket).granted as number[])
  }

  unsubscribe(filters: string[]): Promise<void> {
    const messageId = this.controlId()
    return this.request({ cmd: 'unsubscribe', messageId, unsubscriptions: filters }, messageId).then(() => undefined)
  }

  private request(packet: Packet, messageId: number): Promise<ISubackPacket | IUnsubackPacket> {
    return new Promise((resolve, reject) => {
      if (this.ended) return reject(new Error('link closed'))
      this.waiters.set(messageId, { resolve, reject })
      this.write(packet)
    })
  }

  /** SUBSCRIBE/UNSUBSCRIBE ids come from the top of the range, far from the publish ids the session hands out. */
  private controlId(): number {
    this.lastControlId = (this.lastControlId + 1) % 1000
    return 0xffff - this.lastControlId
  }

  /** QoS 0: written, and that is all. QoS 1/2: the session reports `token` once the peer acknowledged it. */
  publish(packet: IPublishPacket, token: T): void {
    this.write(packet.qos === 0 ? packet : this.session.add(packet, token))
  }

  /** Acknowledges an incoming QoS 1/2 PUBLISH: PUBACK, or PUBREC (PUBCOMP follows the server's PUBREL). */
  acknowledge(packet: IPublishPacket, reasonCode = 0): void {
    const messageId = packet.messageId ?? 0
    if (packet.qos === 1) this.write(this.ack('puback', messageId, reasonCode))
    else if (packet.qos === 2) {
      if (reasonCode < 0x80) this.session.incoming.set(messageId, true)
      else this.session.incoming.delete(messageId)
      this.write(this.ack('pubrec', messageId, reasonCode))
    }
  }

  private ack(cmd: 'puback' | 'pubrec', messageId: number, reasonCode: number): Packet {
    return this.version === 5 && reasonCode !== 0 ? { cmd, messageId, reasonCode } : { cmd, messageId }
  }

  /** A polite end: DISCONNECT (so the server discards the will), then the stream is ended. */
  disconnect(): void {
    if (this.ended) return
    this.write({ cmd: 'disconnect' })
    this.stream.end()
    this.end('disconnected', undefined, false)
  }

  destroy(reason: string): void {
    this.end(reason)
  }

  private write(packet: Packet): void {
    if (this.ended) return
    this.sentSinceTick = true
    // Packets written in one tick leave in one batch (one syscall on a socket), not one write each.
    if (!this.corked) {
      this.corked = true
      this.stream.cork()
      process.nextTick(uncork, this)
    }
    this.stream.write(this.encode(packet))
  }

  /** The packets of the forwarding path go through the broker's own encoders; the rest through mqtt-packet. */
  private encode(packet: Packet): Buffer {
    switch (packet.cmd) {
      case 'publish':
        if (this.version < 5 && Buffer.isBuffer(packet.payload)) {
          return encodePublishV4(packet.topic, packet.payload, packet.qos, packet.retain, packet.dup, packet.messageId ?? 0)
        }
        break
      case 'puback':
      case 'pubrec':
      case 'pubrel':
      case 'pubcomp':
        if ((packet.reasonCode ?? 0) === 0 && packet.properties === undefined) return encodeAck(packet.cmd, packet.messageId ?? 0)
        break
    }
    return generate(packet, { protocolVersion: this.version })
  }

  /** @internal the end of a tick's batch of writes */
  flush(): void {
    this.corked = false
    this.stream.uncork()
  }

  private onPacket(packet: Packet): void {
    switch (packet.cmd) {
      case 'connack': {
        const waiter = this.connackWaiter
        this.connackWaiter = null
        if (waiter) waiter(packet)
        else this.end('unexpected CONNACK')
        return
      }
      case 'publish':
        return this.onPublish(packet)
      case 'puback':
      case 'pubcomp':
        return this.completed(packet.messageId ?? 0, packet.reasonCode ?? 0)
      case 'pubrec': {
        const id = packet.messageId ?? 0
        if ((packet.reasonCode ?? 0) >= 0x80) this.completed(id, packet.reasonCode ?? 0x80)
        else if (this.session.received(id)) this.write({ cmd: 'pubrel', messageId: id })
        // A PUBREC for an id we do not know still gets its PUBREL, so the peer can end the exchange
        else this.write(this.version === 5 ? { cmd: 'pubrel', messageId: id, reasonCode: 0x92 } : { cmd: 'pubrel', messageId: id })
        return
      }
      case 'pubrel': {
        const id = packet.messageId ?? 0
        this.session.incoming.delete(id)
        this.write({ cmd: 'pubcomp', messageId: id })
        return
      }
      case 'suback':
      case 'unsuback': {
        const id = packet.messageId ?? 0
        const waiter = this.waiters.get(id)
        this.waiters.delete(id)
        waiter?.resolve(packet)
        return
      }
      case 'pingresp':
        this.pingsUnanswered = 0
        return
      case 'disconnect':
        this.end('disconnected by the server', packet.reasonCode)
        return
      default:
        this.end(`unexpected ${packet.cmd} from the server`)
    }
  }

  /** An exchange is over: a message held back by the peer's Receive Maximum may go now. */
  private completed(id: number, reasonCode: number): void {
    const next = this.session.complete(id, reasonCode)
    if (next) this.write(next)
  }

  private onPublish(packet: IPublishPacket): void {
    if (packet.qos === 2) {
      const id = packet.messageId ?? 0
      const acknowledged = this.session.incoming.get(id)
      // Already passed on: a resend after a reconnect is answered, not delivered again
      if (acknowledged === true) return this.write({ cmd: 'pubrec', messageId: id })
      if (acknowledged === false) return
      this.session.incoming.set(id, false)
    }
    this.handlers.message(packet)
  }

  private end(reason: string, reasonCode?: number, destroy = true): void {
    if (this.ended) return
    this.ended = true
    if (this.pingTimer) clearInterval(this.pingTimer)
    this.pingTimer = null
    const waiter = this.connackWaiter
    this.connackWaiter = null
    waiter?.(new Error(reason))
    for (const waiter of this.waiters.values()) waiter.reject(new Error(reason))
    this.waiters.clear()
    if (destroy && !this.stream.destroyed) this.stream.destroy()
    this.handlers.closed(reason, reasonCode)
  }
}

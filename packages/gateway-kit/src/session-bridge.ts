import type { Duplex } from 'node:stream'
import { duplexPair, type Broker, type ConnectionMeta } from '@wren/core'
import { generate, parser, type IConnackPacket, type IPublishPacket, type Packet, type QoS } from 'mqtt-packet'

/** What a gateway needs to open a broker session for one of its devices. */
export interface BridgeConnect {
  clientId: string
  clean: boolean
  /** Seconds the broker keeps the session after the device is gone (only without `clean`). */
  sessionExpiry: number
  username?: string
  password?: Buffer
  /** QoS 1/2 messages the broker may have in flight to this session (MQTT 5 Receive Maximum). */
  receiveMaximum: number
}

/** Receives what the broker sends to one bridged session; methods, not closures, so a session costs one object. */
export interface BridgeHandler {
  onConnack(packet: IConnackPacket): void
  onPublish(packet: IPublishPacket): void
  /** PUBACK / PUBREC / PUBREL / PUBCOMP from the broker, with the MQTT 5 reason code (0 when absent). */
  onAck(cmd: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', messageId: number, reasonCode: number): void
  onSuback(messageId: number, reasonCodes: number[]): void
  onUnsuback(messageId: number): void
  /** The session's stream ended: `reason` is 'closed' or the broker's DISCONNECT reason code as 'disconnect:0x..'. */
  onClosed(reason: string): void
}

const V5 = { protocolVersion: 5 } as const

function destroyBridge(bridge: SessionBridge): void {
  bridge.destroy()
}

/**
 * One device of a non-MQTT protocol as an MQTT 5 session of the broker core: an in-memory stream pair handed
 * to `broker.handle()`, so hooks, ACLs, persistence, $SYS and the cluster apply as to any TCP client. The
 * gateway translates its protocol into the few calls here and receives the broker's side through a BridgeHandler.
 */
export class SessionBridge {
  /** False while the broker side has no room: the gateway answers "congestion" rather than buffering without end. */
  writable = true
  closed = false
  /** Server Keep Alive from CONNACK (0: none), when the broker caps keepalive and this session must ping. */
  serverKeepAlive = 0
  maximumQoS: QoS = 2
  retainAvailable = true
  lastWrite = 0
  private readonly local: Duplex
  private readonly parser = parser(V5)
  private disconnectReason = ''

  constructor(
    broker: Broker,
    meta: ConnectionMeta,
    private readonly handler: BridgeHandler,
  ) {
    const [local, remote] = duplexPair()
    this.local = local
    this.parser.on('packet', (packet: Packet) => this.onPacket(packet))
    this.parser.on('error', () => this.destroy())
    local.on('data', (chunk: Buffer) => this.parser.parse(chunk))
    local.on('drain', () => {
      this.writable = true
    })
    local.on('error', () => {})
    local.once('close', () => this.onStreamClosed())
    broker.handle(remote, meta)
  }

  connect(request: BridgeConnect): void {
    this.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clientId: request.clientId,
      clean: request.clean,
      keepalive: 0,
      ...(request.username === undefined ? {} : { username: request.username }),
      ...(request.password === undefined ? {} : { password: request.password }),
      properties: {
        sessionExpiryInterval: request.clean ? 0 : request.sessionExpiry,
        receiveMaximum: request.receiveMaximum,
      },
    })
  }

  publish(topic: string, payload: Buffer, qos: QoS, retain: boolean, messageId: number, dup = false): void {
    this.send({ cmd: 'publish', topic, payload, qos, retain, dup, ...(qos > 0 ? { messageId } : {}) })
  }

  ack(cmd: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', messageId: number): void {
    this.send({ cmd, messageId })
  }

  subscribe(messageId: number, filter: string, qos: QoS): void {
    this.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic: filter, qos, nl: false, rap: false, rh: 0 }] })
  }

  unsubscribe(messageId: number, filter: string): void {
    this.send({ cmd: 'unsubscribe', messageId, unsubscriptions: [filter] })
  }

  ping(): void {
    this.send({ cmd: 'pingreq' })
  }

  /**
   * DISCONNECT with reason 0: the broker discards any will it holds and, for a clean session, the session. The
   * broker closes the stream once it has handled everything sent before (ending it here could cut a PUBLISH
   * still waiting on an async hook); if it has not within `graceMs`, the stream is destroyed.
   */
  disconnect(graceMs = 5000): void {
    if (this.closed) return
    this.send({ cmd: 'disconnect', reasonCode: 0 })
    setTimeout(destroyBridge, graceMs, this).unref()
  }

  /** Ends the stream without DISCONNECT, as a lost network connection would. */
  destroy(): void {
    if (!this.closed) this.local.destroy()
  }

  private send(packet: Packet): void {
    if (this.closed) return
    this.lastWrite = Date.now()
    if (!this.local.write(generate(packet, V5))) this.writable = false
  }

  private onPacket(packet: Packet): void {
    switch (packet.cmd) {
      case 'connack':
        this.serverKeepAlive = packet.properties?.serverKeepAlive ?? 0
        this.maximumQoS = (packet.properties?.maximumQoS ?? 2) as QoS
        this.retainAvailable = packet.properties?.retainAvailable ?? true
        this.handler.onConnack(packet)
        return
      case 'publish':
        this.handler.onPublish(packet)
        return
      case 'puback':
      case 'pubrec':
      case 'pubrel':
      case 'pubcomp':
        this.handler.onAck(packet.cmd, packet.messageId ?? 0, packet.reasonCode ?? 0)
        return
      case 'suback':
        this.handler.onSuback(packet.messageId ?? 0, (packet.granted as Array<number | { qos: number }>).map((g) => (typeof g === 'number' ? g : g.qos)))
        return
      case 'unsuback':
        this.handler.onUnsuback(packet.messageId ?? 0)
        return
      case 'disconnect':
        this.disconnectReason = `disconnect:0x${(packet.reasonCode ?? 0).toString(16).padStart(2, '0')}`
        return
      default:
        return
    }
  }

  private onStreamClosed(): void {
    if (this.closed) return
    this.closed = true
    this.writable = false
    this.handler.onClosed(this.disconnectReason || 'closed')
  }
}

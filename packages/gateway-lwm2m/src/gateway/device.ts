import type { IncomingMessage, ObserveReadStream, OutgoingMessage } from 'coap'
import { SessionBridge, type BridgeHandler } from '@wren/gateway-kit'
import type { IConnackPacket, IPublishPacket } from 'mqtt-packet'
import { CommandError, parseCommand, type DeviceRequest } from './command.js'
import type { Lwm2mTopics } from './options.js'

/** What a device's registration said (§5.3.1): the fields published in `register` / `update` messages. */
export interface Registration {
  ep: string
  lt: number
  lwm2m: string
  b: string
  sms?: string
  alternatePath: string
  objectList: string[]
}

/** What a device needs from its gateway. */
export interface DeviceHost {
  readonly topics: Lwm2mTopics
  readonly qmodeTimeWindowMs: number
  readonly maxQueuedCommands: number
  readonly qos: 0 | 1
  autoObserve(device: Lwm2mDevice): string[]
  parse(payload: Buffer): DeviceRequest
  send(device: Lwm2mDevice, request: DeviceRequest): void
  deviceClosed(device: Lwm2mDevice): void
  registered(device: Lwm2mDevice, accepted: boolean): void
  expired(device: Lwm2mDevice): void
  commandRejected(device: Lwm2mDevice, error: CommandError): void
  commandQueued(dropped: boolean): void
}

function expire(device: Lwm2mDevice): void {
  device.host.expired(device)
}

/**
 * One registered LwM2M client as a broker session named by its endpoint: commands arrive as MQTT publishes on
 * its mountpoint's command topic, its registration events and responses leave through the same session, so the
 * broker's hooks and ACLs see the endpoint as the client id.
 */
export class Lwm2mDevice implements BridgeHandler {
  readonly bridge: SessionBridge
  /** Observe streams by the path observed. */
  readonly observations = new Map<string, ObserveReadStream>()
  readonly registeredAt = Date.now()
  lastSeen = Date.now()
  /** Until when a queue-mode device listens (ms since epoch). */
  awakeUntil = 0
  private readonly queued: DeviceRequest[] = []
  private lifetimeTimer: NodeJS.Timeout | null = null
  private pendingResponse: OutgoingMessage | null
  private messageId = 0
  closed = false

  constructor(
    readonly host: DeviceHost,
    broker: ConstructorParameters<typeof SessionBridge>[0],
    readonly location: string,
    readonly mountpoint: string,
    public registration: Registration,
    public address: string,
    public port: number,
    response: OutgoingMessage,
  ) {
    this.pendingResponse = response
    this.bridge = new SessionBridge(broker, { transport: 'lwm2m', remoteAddress: address, remotePort: port }, this)
    this.bridge.connect({ clientId: registration.ep, clean: true, sessionExpiry: 0, receiveMaximum: 64 })
  }

  get endpoint(): string {
    return this.registration.ep
  }

  get queueMode(): boolean {
    return this.registration.b.includes('Q')
  }

  /** Still waiting for the broker to accept the session: the Register is not answered yet. */
  get registering(): boolean {
    return this.pendingResponse !== null
  }

  get queuedCount(): number {
    return this.queued.length
  }

  /** The device sent something: it listens again for the queue-mode window, and its lifetime starts over on an update. */
  heard(address: string, port: number): void {
    this.address = address
    this.port = port
    this.lastSeen = Date.now()
    this.awakeUntil = this.lastSeen + this.host.qmodeTimeWindowMs
  }

  restartLifetime(): void {
    if (this.lifetimeTimer) clearTimeout(this.lifetimeTimer)
    this.lifetimeTimer = setTimeout(expire, this.registration.lt * 1000, this)
    this.lifetimeTimer.unref()
  }

  /** Sends the commands held while the device slept. */
  flush(): void {
    for (const request of this.queued.splice(0)) this.host.send(this, request)
  }

  publishEvent(topic: keyof Lwm2mTopics, message: unknown): void {
    const qos = this.host.qos
    this.messageId = (this.messageId % 0xffff) + 1
    this.bridge.publish(`${this.mountpoint}${this.host.topics[topic]}`, Buffer.from(JSON.stringify(message)), qos, false, this.messageId)
  }

  /** Ends the device's broker session: DISCONNECT (no will) unless the broker already closed it. */
  close(): void {
    if (this.closed) return
    this.closed = true
    if (this.lifetimeTimer) clearTimeout(this.lifetimeTimer)
    for (const stream of this.observations.values()) stream.close()
    this.observations.clear()
    this.queued.length = 0
    this.answerRegistration('5.03')
    this.bridge.disconnect()
    this.host.deviceClosed(this)
  }

  onConnack(packet: IConnackPacket): void {
    const code = packet.reasonCode ?? packet.returnCode ?? 0
    if (code !== 0) {
      this.answerRegistration('4.03')
      this.host.registered(this, false)
      this.close()
      return
    }
    this.bridge.subscribe(1, `${this.mountpoint}${this.host.topics.command}/#`, 0)
  }

  onSuback(_messageId: number, reasonCodes: number[]): void {
    if ((reasonCodes[0] ?? 0x80) >= 0x80) {
      this.answerRegistration('4.03')
      this.host.registered(this, false)
      this.close()
      return
    }
    const response = this.pendingResponse
    this.pendingResponse = null
    if (response) {
      response.code = '2.01'
      response.setOption('Location-Path', [Buffer.from('rd'), Buffer.from(this.location)])
      response.end()
    }
    this.restartLifetime()
    this.publishEvent('register', { msgType: 'register', data: this.registration })
    this.host.registered(this, true)
    for (const path of this.host.autoObserve(this)) this.host.send(this, this.host.parse(Buffer.from(JSON.stringify({ msgType: 'observe', data: { path } }))))
  }

  onPublish(packet: IPublishPacket): void {
    let request: DeviceRequest
    try {
      request = this.host.parse(typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload)
    } catch (error) {
      if (error instanceof CommandError) this.host.commandRejected(this, error)
      return
    }
    if (this.queueMode && Date.now() > this.awakeUntil) {
      const dropped = this.queued.length >= this.host.maxQueuedCommands
      if (dropped) this.queued.shift()
      this.queued.push(request)
      this.host.commandQueued(dropped)
      return
    }
    this.host.send(this, request)
  }

  onAck(): void {}

  onUnsuback(): void {}

  onClosed(): void {
    // The broker ended the session (taken over, kicked, or the gateway closing): the device is gone with it.
    this.close()
  }

  private answerRegistration(code: string): void {
    const response = this.pendingResponse
    this.pendingResponse = null
    if (!response) return
    response.code = code
    response.end()
  }
}

/** Reads a response's Observe sequence number, when it has one. */
export function observeSequence(message: IncomingMessage): number | undefined {
  const value = message.headers.Observe
  return typeof value === 'number' ? value : undefined
}

import type { Socket as DgramSocket, RemoteInfo as DgramRemoteInfo } from 'node:dgram'
import type { Broker } from '@wren/core'
import { Intervals, publishSysValues, reportGateway, SessionBridge, udpAddress, type BridgeHandler } from '@wren/gateway-kit'
import { MalformedDatagram, decodeDatagram } from '../codec/decode.js'
import { encodeDatagram } from '../codec/encode.js'
import { ReturnCode, TopicIdType, shortTopicName, type Connect, type Forwarder, type Publish, type SnMessage } from '../codec/messages.js'
import { resolveOptions, type MqttSnOptions, type RemoteInfo, type ResolvedMqttSnOptions, type SnCredentials } from './options.js'
import { SnSession, type SessionHost, type SnSessionState } from './sn-session.js'
import { MqttSnStats } from './stats.js'
import { gatewayStats } from './gateway-stats.js'

/** What `gateway.clients()` reports of one MQTT-SN client. */
export interface MqttSnClientInfo {
  clientId: string
  state: SnSessionState
  address: string
  port: number
  /** Messages waiting for the client (while it sleeps, or behind an unacknowledged one). */
  buffered: number
}

function keyOf(remote: RemoteInfo, forwarder: Forwarder | undefined): string {
  const base = `${remote.address}:${remote.port}`
  return forwarder === undefined ? base : `${base}/${forwarder.wirelessNodeId.toString('hex')}`
}

function ignoreSendError(): void {}

/**
 * What a client sends only while connected: from an address the gateway has no client for, it gets DISCONNECT.
 * A DISCONNECT is never answered so (two gateways must not bounce DISCONNECTs), nor are a gateway's own messages.
 */
const UNKNOWN_SENDER_DISCONNECTED: ReadonlySet<SnMessage['type']> = new Set<SnMessage['type']>([
  'register',
  'regack',
  'publish',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'subscribe',
  'unsubscribe',
  'pingreq',
  'willtopic',
  'willmsg',
  'willtopicupd',
  'willmsgupd',
])

/**
 * An MQTT-SN 1.2 gateway on a UDP socket the host owns: every client becomes an MQTT 5 session of `broker`
 * (transport 'mqtt-sn'), so hooks, ACLs, persistence, $SYS and the cluster apply to it as to any MQTT client.
 */
export class MqttSnGateway implements SessionHost {
  readonly options: ResolvedMqttSnOptions
  readonly stats = new MqttSnStats()
  readonly predefinedIdSet: ReadonlySet<number>
  private readonly byKey = new Map<string, SnSession>()
  private readonly byClientId = new Map<string, SnSession>()
  private readonly intervals = new Intervals()
  private qosMinus1: SessionBridge | null = null
  /** Epoch ms before which QoS -1 PUBLISHes are dropped: the shared session's login was refused. */
  private qosMinus1RefusedUntil = 0
  private closedValue = false
  private readonly unregister: () => void
  /**
   * Datagrams of one event-loop turn, handled together in one callback: what they make the broker send (e.g. to
   * a TCP subscriber) then leaves in one write per connection, as a TCP read of many packets would.
   */
  private readonly inbound: Array<Buffer | DgramRemoteInfo> = []
  private readonly onSocketClosed = (): void => this.close()
  private readonly onMessage = (datagram: Buffer, remote: DgramRemoteInfo): void => {
    if (this.inbound.length === 0) setImmediate(this.drainInbound)
    this.inbound.push(datagram, remote)
  }
  private readonly drainInbound = (): void => {
    const inbound = this.inbound.splice(0)
    for (let i = 0; i < inbound.length && !this.closed; i += 2) this.receive(inbound[i] as Buffer, inbound[i + 1] as DgramRemoteInfo)
  }

  constructor(
    readonly broker: Broker,
    readonly socket: DgramSocket,
    options: MqttSnOptions = {},
  ) {
    this.options = resolveOptions(options)
    this.predefinedIdSet = new Set(this.options.predefined.keys())
    this.unregister = reportGateway(broker, gatewayStats(this), 'MQTT-SN')
    socket.on('message', this.onMessage)
    // The host may close its socket first: the gateway then ends its clients' sessions instead of sending into it.
    socket.once('close', this.onSocketClosed)
    this.intervals.every(Math.min(1000, this.options.retryInterval), () => this.sweep())
    if (this.options.sysInterval > 0) this.intervals.every(this.options.sysInterval * 1000, () => this.publishSys())
    const advertise = this.options.advertise
    if (advertise !== undefined) {
      const send = (): void => {
        this.sendTo(advertise, undefined, { type: 'advertise', gatewayId: this.options.gatewayId, duration: advertise.interval })
      }
      send()
      this.intervals.every(advertise.interval * 1000, send)
    }
  }

  get closed(): boolean {
    return this.closedValue
  }

  /** `host:port` of the UDP socket; undefined before it is bound. */
  get address(): string | undefined {
    return udpAddress(this.socket)
  }

  /** The clients the gateway holds (connecting, active, asleep, awake). */
  clients(): MqttSnClientInfo[] {
    return [...this.byKey.values()].map((session) => ({
      clientId: session.clientId,
      state: session.state,
      address: session.remote.address,
      port: session.remote.port,
      buffered: session.bufferedCount,
    }))
  }

  /** Ends every client's broker session (no wills: the gateway going away is not the clients' failure) and stops listening. */
  close(): void {
    if (this.closedValue) return
    this.closedValue = true
    this.unregister()
    this.socket.removeListener('message', this.onMessage)
    this.socket.removeListener('close', this.onSocketClosed)
    this.intervals.stop()
    for (const session of [...this.byKey.values()]) session.close('gateway-closing', false)
    this.qosMinus1?.disconnect()
  }

  send(session: SnSession, message: SnMessage): boolean {
    return this.sendTo(session.remote, session.forwarder, message)
  }

  sessionClosed(session: SnSession): void {
    if (this.byKey.get(session.key) === session) this.byKey.delete(session.key)
    if (this.byClientId.get(session.clientId) === session) this.byClientId.delete(session.clientId)
  }

  private sendTo(remote: RemoteInfo, forwarder: Forwarder | undefined, message: SnMessage): boolean {
    const bytes = encodeDatagram(message, forwarder)
    if (bytes.length > this.options.maxDatagramSize || this.closed) return false
    this.stats.datagramsSent++
    this.socket.send(bytes, remote.port, remote.address, ignoreSendError)
    return true
  }

  private receive(bytes: Buffer, remote: DgramRemoteInfo): void {
    this.stats.datagramsReceived++
    if (bytes.length > this.options.maxDatagramSize) {
      this.stats.datagramsMalformed++
      return
    }
    let message: SnMessage
    let forwarder: Forwarder | undefined
    try {
      const datagram = decodeDatagram(bytes)
      message = datagram.message
      forwarder = datagram.forwarder
    } catch (error) {
      this.stats.datagramsMalformed++
      const where = `${remote.address}:${remote.port}`
      if (error instanceof MalformedDatagram) this.broker.logger.debug({ remote: where, reason: error.message }, 'mqtt-sn: malformed datagram dropped')
      else this.broker.logger.error({ err: error, remote: where }, 'mqtt-sn: the decoder failed on a datagram (dropped)')
      return
    }
    const key = keyOf(remote, forwarder)
    const session = this.byKey.get(key)
    try {
      this.dispatch(message, key, remote, forwarder, session)
    } catch (error) {
      // A fault while handling one client's datagram ends that client only.
      this.broker.logger.error({ err: error, remote: key }, 'mqtt-sn: error handling a datagram')
      session?.close('gateway-error', false)
    }
  }

  private dispatch(message: SnMessage, key: string, remote: RemoteInfo, forwarder: Forwarder | undefined, session: SnSession | undefined): void {
    switch (message.type) {
      case 'searchgw':
        this.sendTo(remote, forwarder, { type: 'gwinfo', gatewayId: this.options.gatewayId })
        return
      case 'connect':
        this.connect(message, key, remote, forwarder, session)
        return
      case 'publish':
        if (message.qos === -1 && session === undefined) {
          this.publishQosMinus1(message, remote)
          return
        }
        break
      case 'pingreq':
        if (message.clientId !== undefined && message.clientId !== '') {
          const named = this.byClientId.get(message.clientId)
          if (named === undefined) break
          // Another port (or forwarder) of the same host is the same device; another host does not get to wake it.
          if (named.remote.address !== remote.address) {
            this.stats.datagramsDropped++
            return
          }
          // A sleeping client may wake from another port (or through another forwarder): it is the same client.
          this.rebind(named, key, remote, forwarder)
          named.wake()
          return
        }
        break
      case 'advertise':
      case 'gwinfo':
        // Another gateway's announcements, or a client's answer to a SEARCHGW: nothing for this gateway to do.
        return
      default:
        break
    }
    if (session === undefined) {
      this.stats.datagramsDropped++
      // §5.4.21: a gateway that cannot map a message to a client may tell it DISCONNECT. A device that believes
      // it is connected (e.g. across a broker restart) then CONNECTs again instead of retrying into silence.
      if (UNKNOWN_SENDER_DISCONNECTED.has(message.type)) this.sendTo(remote, forwarder, { type: 'disconnect' })
      return
    }
    session.receive(message)
  }

  private connect(connect: Connect, key: string, remote: RemoteInfo, forwarder: Forwarder | undefined, atKey: SnSession | undefined): void {
    const existing = this.byClientId.get(connect.clientId)
    if (existing !== undefined) {
      const handshaking = existing.state === 'will-topic' || existing.state === 'will-message' || existing.state === 'connecting'
      if (handshaking && existing === atKey) {
        existing.receive(connect)
        return
      }
      const sleeping = existing.state === 'asleep' || existing.state === 'awake'
      if (sleeping && !connect.cleanSession && !connect.will) {
        this.rebind(existing, key, remote, forwarder)
        existing.resume(connect)
        return
      }
      existing.close('reconnected', false)
    }
    if (atKey !== undefined && atKey.state !== 'gone') atKey.close('address-reused', false)
    if (connect.clientId === '' || connect.clientId.length > this.options.maxClientIdLength) {
      this.sendTo(remote, forwarder, { type: 'connack', returnCode: ReturnCode.NotSupported })
      return
    }
    if (this.byKey.size >= this.options.maxClients) {
      this.sendTo(remote, forwarder, { type: 'connack', returnCode: ReturnCode.Congestion })
      return
    }
    const session = new SnSession(this, key, remote, forwarder, connect)
    if (session.state === 'gone') return
    this.byKey.set(key, session)
    this.byClientId.set(connect.clientId, session)
  }

  private rebind(session: SnSession, key: string, remote: RemoteInfo, forwarder: Forwarder | undefined): void {
    if (session.key === key) return
    const other = this.byKey.get(key)
    if (other !== undefined && other !== session) other.close('address-reused', false)
    if (this.byKey.get(session.key) === session) this.byKey.delete(session.key)
    session.key = key
    session.remote = remote
    session.forwarder = forwarder
    this.byKey.set(key, session)
  }

  /** QoS -1 (§6.8): no connection, predefined ids or short names only, published from one shared broker session. */
  private publishQosMinus1(message: Publish, remote: RemoteInfo): void {
    if (!this.options.qosMinus1) {
      this.stats.datagramsDropped++
      return
    }
    const topic =
      message.topicIdType === TopicIdType.Short
        ? shortTopicName(message.topicId)
        : message.topicIdType === TopicIdType.Predefined
          ? this.options.predefined.get(message.topicId)
          : undefined
    if (topic === undefined) {
      this.stats.datagramsDropped++
      return
    }
    const bridge = this.qosMinus1Bridge(remote)
    if (bridge === undefined || !bridge.writable) {
      this.stats.datagramsDropped++
      return
    }
    this.stats.publishesReceived++
    bridge.publish(topic, message.payload, 0, message.retain, 0)
  }

  /**
   * The shared session, opened by the first QoS -1 datagram; it logs in with what `credentials` gives its client
   * id (asked with that datagram's address), so a password file admits it as it admits connected clients.
   */
  private qosMinus1Bridge(remote: RemoteInfo): SessionBridge | undefined {
    if (this.qosMinus1 !== null && !this.qosMinus1.closed) return this.qosMinus1
    // After a refusal, datagrams do not each cost a login (a password check is deliberately slow) for a while.
    if (Date.now() < this.qosMinus1RefusedUntil) return undefined
    const clientId = this.options.qosMinus1ClientId
    const credentials = this.options.credentials?.(clientId, remote)
    if (credentials === false) {
      this.refuseQosMinus1()
      return undefined
    }
    const handler: BridgeHandler = {
      onConnack: (packet) => {
        const code = packet.reasonCode ?? packet.returnCode ?? 0
        if (code === 0) return
        this.broker.logger.warn({ clientId, code }, 'mqtt-sn: the broker refused the QoS -1 session')
        this.refuseQosMinus1()
      },
      onPublish: () => {},
      onAck: () => {},
      onSuback: () => {},
      onUnsuback: () => {},
      onClosed: () => {},
    }
    const bridge = new SessionBridge(this.broker, { transport: 'mqtt-sn' }, handler)
    this.qosMinus1 = bridge
    if (credentials instanceof Promise) {
      // QoS -1 PUBLISHes that arrive before the login is known are dropped and counted: QoS -1 promises nothing.
      bridge.writable = false
      credentials.then(
        (resolved) => this.connectQosMinus1(bridge, resolved),
        (error: unknown) => {
          this.broker.logger.warn({ err: error, clientId }, 'mqtt-sn: the credentials callback failed')
          bridge.destroy()
        },
      )
    } else {
      this.connectQosMinus1(bridge, credentials)
    }
    return bridge
  }

  private refuseQosMinus1(): void {
    this.qosMinus1RefusedUntil = Date.now() + this.options.retryInterval
  }

  private connectQosMinus1(bridge: SessionBridge, credentials: SnCredentials | false | undefined): void {
    if (credentials === false) {
      this.refuseQosMinus1()
      bridge.destroy()
      return
    }
    bridge.writable = true
    bridge.connect({ clientId: this.options.qosMinus1ClientId, clean: true, sessionExpiry: 0, receiveMaximum: 1, ...credentials })
  }

  private sweep(): void {
    const now = Date.now()
    for (const session of [...this.byKey.values()]) {
      try {
        session.tick(now)
      } catch (error) {
        this.broker.logger.error({ err: error, clientId: session.clientId }, 'mqtt-sn: error in a client timer')
        session.close('gateway-error', false)
      }
    }
  }

  private publishSys(): void {
    let connected = 0
    let asleep = 0
    for (const session of this.byKey.values()) {
      if (session.state === 'active') connected++
      else if (session.state === 'asleep' || session.state === 'awake') asleep++
    }
    const s = this.stats
    const values: Array<[string, number]> = [
      ['clients/connected', connected],
      ['clients/asleep', asleep],
      ['datagrams/received', s.datagramsReceived],
      ['datagrams/sent', s.datagramsSent],
      ['datagrams/malformed', s.datagramsMalformed],
      ['datagrams/dropped', s.datagramsDropped],
      ['publish/messages/received', s.publishesReceived],
      ['publish/messages/sent', s.publishesSent],
      ['publish/messages/rejected', s.publishesRejected],
      ['messages/dropped', s.messagesDropped],
    ]
    publishSysValues(this.broker, 'mqtt-sn', values)
  }
}

/** Serves MQTT-SN 1.2 on `socket` (bound by the host, e.g. `dgram.createSocket('udp4').bind(1884)`) for `broker`. */
export function attachMqttSn(broker: Broker, socket: DgramSocket, options?: MqttSnOptions): MqttSnGateway {
  return new MqttSnGateway(broker, socket, options)
}

import { EventEmitter } from 'node:events'
import { connect as netConnect } from 'node:net'
import type { Duplex } from 'node:stream'
import { duplexPair, type Broker, type QoS } from '@wren/core'
import type { IConnectPacket, IPublishPacket } from 'mqtt-packet'
import { Backoff } from './backoff.js'
import { LinkSession } from './link-session.js'
import { ConnectRefused, MqttLink } from './mqtt-link.js'
import { resolveBridgeOptions, type BridgeAddress, type BridgeOptions, type ResolvedBridgeOptions } from './options.js'
import { forwardedProperties, hopsExceeded } from './message-properties.js'
import { openRemoteStream } from './remote-stream.js'
import type { BridgeLease } from './lease.js'
import { bridgeStats } from './bridge-stats.js'

/**
 * idle: not linked (not started yet, or a lazy bridge waiting for traffic); connecting: opening the remote link;
 * connected: forwarding; disconnected: the remote link failed and a reconnection is scheduled (or, for start
 * type 'once', not); stopped: `stop()` was called or the broker closed.
 */
export type BridgeState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'stopped'

export interface BridgeEvents {
  state: [state: BridgeState]
  /** The remote accepted the bridge; `bridgeBit` says whether the bridge bit (try_private) was accepted. */
  connected: [address: Required<BridgeAddress>, bridgeBit: boolean]
  /** The remote link ended, or an attempt failed; `delayMs` until the next attempt (undefined: none planned). */
  disconnected: [reason: string, delayMs: number | undefined]
}

/** Counters since the bridge was created. */
export interface BridgeStats {
  /** Local messages sent to the remote (QoS 1/2: acknowledged by it). */
  forwarded: number
  /** Remote messages published locally (QoS 1/2: acknowledged by the local broker). */
  received: number
  /** Messages not forwarded: QoS 0 while the remote was down, over the packet size, or over the hop limit. */
  dropped: number
  /** Connections to the remote after the first one. */
  reconnects: number
}

/** A local QoS 1/2 delivery on its way to the remote; acknowledged locally only if its local session still exists. */
interface Delivery {
  local: IPublishPacket
  out: IPublishPacket
  epoch: number
}

type LocalToken = IPublishPacket
type RemoteToken = Delivery | null

const CONNECT_TIMEOUT_MS = 10_000
/** v3.1/3.1.1 CONNACK return code 1: unacceptable protocol version (here: the bridge bit). */
const UNACCEPTABLE_PROTOCOL_VERSION = 1
/** v5 DISCONNECT reason code: the server is shutting down. */
const SERVER_SHUTTING_DOWN = 0x8b
/** CONNACK refusals for "not authorized": v5 reason code, 3.1/3.1.1 return code. */
const NOT_AUTHORIZED = 0x87
const NOT_AUTHORIZED_V3 = 5
const NEVER_EXPIRES = 0xffffffff

/**
 * One bridge: an MQTT client of the local broker (over `duplexPair()`, so hooks, ACLs, persistence, `$SYS` and
 * clustering apply to it as to any client) and of a remote broker at the same time.
 *
 * Outgoing QoS 1/2 messages are acknowledged to the local broker only once the remote acknowledged them, and
 * the local session is persistent: while the remote is down, messages wait in the local broker's own session
 * queue (so in SQLite or Redis), at most `maxInflight` of them in the bridge's memory.
 */
export class Bridge extends EventEmitter<BridgeEvents> {
  readonly options: ResolvedBridgeOptions
  readonly stats: BridgeStats = { forwarded: 0, received: 0, dropped: 0, reconnects: 0 }
  private stateValue: BridgeState = 'idle'
  private local: MqttLink<LocalToken> | null = null
  private localStream: Duplex | null = null
  private remote: MqttLink<RemoteToken> | null = null
  /** Publishes to the local broker carry the remote packet they came from, to be acknowledged there. */
  private readonly localSession = new LinkSession<LocalToken>((remotePacket, reasonCode) => this.deliveredLocally(remotePacket, reasonCode))
  /** Publishes to the remote carry the local delivery they came from (null: a notification). */
  private readonly remoteSession = new LinkSession<RemoteToken>((delivery, reasonCode) => this.deliveredRemotely(delivery, reasonCode))
  /** Local QoS 1/2 deliveries waiting for a free slot in the remote's Receive Maximum. */
  private readonly pending: Delivery[] = []
  /** Local packet ids being forwarded: a local resend (DUP) of one of them is not sent twice. */
  private readonly outstanding = new Set<number>()
  /** Goes up each time the local session starts afresh: older deliveries' packet ids mean nothing any more. */
  private localEpoch = 0
  private readonly backoff: Backoff
  private addressIndex = 0
  private bridgeBitRefused = false
  private willRefused = false
  private timer: NodeJS.Timeout | null = null
  private idleTimer: NodeJS.Timeout | null = null
  private primaryTimer: NodeJS.Timeout | null = null
  private sysTimer: NodeJS.Timeout | null = null
  private lastTraffic = 0
  private stopping = false
  private startPromise: Promise<void> | null = null
  private leaseTimer: NodeJS.Timeout | null = null
  private leaseHeld = false
  private checkingLease = false
  private linkedAddress: Required<BridgeAddress> | null = null
  private linkedBefore = false
  private unregister: (() => void) | null = null

  constructor(
    private readonly broker: Broker,
    options: BridgeOptions,
  ) {
    super()
    this.options = resolveBridgeOptions(options)
    this.backoff = new Backoff(this.options.restartTimeout)
  }

  get name(): string {
    return this.options.name
  }

  get state(): BridgeState {
    return this.stateValue
  }

  /** Local QoS 1/2 messages held by the bridge for the remote (the rest wait in the local broker's queue). */
  get queued(): number {
    return this.pending.length
  }

  /** `host:port` of the remote broker while connected. */
  get remoteAddress(): string | undefined {
    const address = this.stateValue === 'connected' ? this.linkedAddress : null
    return address ? `${address.host}:${address.port}` : undefined
  }

  /**
   * Connects to the local broker, then (start type automatic/once) to the remote; resolves once the local side
   * is up. With a lease, the bridge runs only while this node holds it: resolves after the first attempt.
   * From here until `stop()` it reports to `broker.admin` (metrics, admin API).
   */
  start(): Promise<void> {
    this.unregister ??= this.broker.admin.register(bridgeStats(this, this.broker))
    const lease = this.options.lease
    if (!lease) return this.run()
    if (this.leaseTimer) return Promise.resolve()
    this.leaseTimer = setInterval(() => void this.checkLease(lease), lease.renewMs)
    this.leaseTimer.unref()
    return this.checkLease(lease)
  }

  private run(): Promise<void> {
    this.startPromise ??= this.startLocal().then(() => {
      this.startSys()
      if (this.options.startType !== 'lazy') this.connectRemote()
    })
    return this.startPromise
  }

  private async checkLease(lease: BridgeLease): Promise<void> {
    if (this.stopping || this.checkingLease) return
    this.checkingLease = true
    let held = false
    try {
      held = await lease.hold(this.name)
    } catch (error) {
      this.broker.logger.warn({ bridge: this.name, err: error }, 'bridge: lease not renewed')
    } finally {
      this.checkingLease = false
    }
    if (this.stopping || held === this.leaseHeld) return
    this.leaseHeld = held
    if (held) {
      this.broker.logger.info({ bridge: this.name }, 'bridge: lease taken, running the bridge here')
      await this.run().catch((error: unknown) => this.broker.logger.error({ bridge: this.name, err: error }, 'bridge: could not start'))
    } else {
      this.broker.logger.warn({ bridge: this.name }, 'bridge: lease lost, another node runs the bridge')
      this.standDown()
    }
  }

  /**
   * The lease went to another node: leave both brokers with DISCONNECT (no will, no '0'), keeping the sessions
   * for the new holder, which gets what was unacknowledged here again from the local session (at least once),
   * and stop reporting to `$SYS`.
   */
  private standDown(): void {
    this.clearTimers()
    // In a cluster the retained $SYS topics are shared: only the node running the bridge may write them
    if (this.sysTimer) clearInterval(this.sysTimer)
    this.sysTimer = null
    const remote = this.remote
    const local = this.local
    this.remote = this.local = null
    this.localStream = null
    this.startPromise = null
    remote?.disconnect()
    local?.disconnect()
    this.pending.length = 0
    this.outstanding.clear()
    this.localSession.reset()
    this.remoteSession.reset()
    this.setState('idle')
  }

  /** Publishes the '0' notification, disconnects from both sides (the sessions are kept) and stops reconnecting. */
  async stop(): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    this.clearTimers()
    const reporting = this.sysTimer !== null
    if (this.sysTimer) clearInterval(this.sysTimer)
    this.sysTimer = null
    const remote = this.remote
    if (remote?.open) {
      if (this.options.notifications && !this.options.notificationsLocalOnly) remote.publish(this.notification('0', 0), null)
      remote.disconnect()
    }
    if (this.options.notifications && this.local?.open) await this.notifyLocal('0')
    this.local?.disconnect()
    this.setState('stopped')
    if (reporting) this.publishSys()
    if (this.leaseTimer) clearInterval(this.leaseTimer)
    this.leaseTimer = null
    if (this.leaseHeld) await this.options.lease?.release(this.name).catch(() => undefined)
    this.unregister?.()
  }

  private setState(state: BridgeState): void {
    if (this.stateValue === state) return
    this.stateValue = state
    this.emit('state', state)
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer)
    if (this.idleTimer) clearInterval(this.idleTimer)
    if (this.primaryTimer) clearInterval(this.primaryTimer)
    this.timer = this.idleTimer = this.primaryTimer = null
  }

  /** State and counters as retained `$SYS/broker/bridge/<name>/...` messages, as the broker's own statistics. */
  private startSys(): void {
    const seconds = this.options.sysInterval
    if (seconds === 0 || this.sysTimer) return
    this.publishSys()
    this.sysTimer = setInterval(() => this.publishSys(), seconds * 1000)
    this.sysTimer.unref()
  }

  private publishSys(): void {
    const prefix = `$SYS/broker/bridge/${this.options.name}/`
    const values: Array<[string, string | number]> = [
      ['state', this.stateValue],
      ['messages/forwarded', this.stats.forwarded],
      ['messages/received', this.stats.received],
      ['messages/dropped', this.stats.dropped],
      ['queued', this.pending.length],
    ]
    for (const [topic, value] of values) {
      this.broker.publish({ topic: prefix + topic, payload: String(value), retain: true }).catch(() => undefined)
    }
  }

  // ---- the local side ----

  private async startLocal(): Promise<void> {
    await this.broker.ready()
    const [ours, theirs] = duplexPair()
    this.broker.handle(theirs, { transport: 'bridge', bridge: this.options.name })
    this.localStream = ours
    const link = new MqttLink(ours, 5, this.localSession, {
      message: (packet) => this.onLocalMessage(packet),
      drain: () => undefined,
      closed: (reason, code) => this.onLocalClosed(link, reason, code),
    })
    this.local = link
    const { localCleanSession, localClientId, localUsername, localPassword, maxInflight, topics } = this.options
    const connect: IConnectPacket = {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clientId: localClientId,
      clean: localCleanSession,
      keepalive: 0,
      properties: { sessionExpiryInterval: localCleanSession ? 0 : NEVER_EXPIRES, receiveMaximum: maxInflight },
    }
    if (localUsername !== undefined) connect.username = localUsername
    if (localPassword !== undefined) connect.password = Buffer.from(localPassword)
    const connack = await link.connect(connect)
    if (!connack.sessionPresent) {
      this.localEpoch++
      this.outstanding.clear()
    }
    const subscriptions = topics.localSubscriptions()
    // No Local: what the bridge brings in is never sent back out; Retain As Published keeps retained flags.
    if (subscriptions.length > 0) await link.subscribe(subscriptions.map(({ filter, qos }) => ({ topic: filter, qos, nl: true, rap: true, rh: 1 })))
  }

  private onLocalClosed(link: MqttLink<LocalToken>, reason: string, code: number | undefined): void {
    if (this.local !== link) return
    this.local = null
    this.localStream = null
    if (this.stopping) return
    if (code === SERVER_SHUTTING_DOWN) {
      void this.stop()
      return
    }
    this.broker.logger.warn({ bridge: this.name, reason }, 'bridge: local connection lost, restarting the bridge')
    // Messages in flight on both sides are resent by their sessions once both links are back.
    const remote = this.remote
    this.remote = null
    remote?.destroy('local connection lost')
    this.clearTimers()
    this.setState('disconnected')
    this.startPromise = null
    this.timer = setTimeout(() => {
      this.timer = null
      this.start().catch((error: unknown) => this.broker.logger.error({ bridge: this.name, err: error }, 'bridge: local restart failed'))
    }, this.backoff.next())
  }

  /** A local message matching an out/both rule. */
  private onLocalMessage(packet: IPublishPacket): void {
    this.lastTraffic = Date.now()
    const id = packet.messageId ?? 0
    if (packet.qos > 0 && this.outstanding.has(id)) return
    const topic = this.options.topics.toRemote(packet.topic)
    const out = topic === undefined ? undefined : this.outgoing(packet, topic)
    if (out === undefined) {
      this.stats.dropped++
      this.local?.acknowledge(packet)
      return
    }
    const remote = this.remote
    if (packet.qos === 0) {
      if (remote && this.stateValue === 'connected') {
        this.send(remote, out, null)
        this.stats.forwarded++
      } else this.stats.dropped++
      return
    }
    this.outstanding.add(id)
    this.pending.push({ local: packet, out, epoch: this.localEpoch })
    if (this.options.startType === 'lazy' && this.stateValue === 'idle' && this.pending.length >= Math.min(this.options.threshold, this.options.maxInflight)) {
      this.connectRemote()
    }
    this.pump()
  }

  /** The remote form of a local message, or undefined when it must not go (hop limit, packet size). */
  private outgoing(packet: IPublishPacket, topic: string): IPublishPacket | undefined {
    const { hopLimit, outgoingRetain, protocolVersion } = this.options
    if (hopsExceeded(packet.properties, hopLimit)) return undefined
    const out: IPublishPacket = { cmd: 'publish', topic, payload: packet.payload, qos: packet.qos, retain: outgoingRetain && packet.retain, dup: false }
    if (protocolVersion === 5) {
      const properties = forwardedProperties(packet.properties, hopLimit)
      if (properties) out.properties = properties
    }
    const limit = this.remoteMaxPacketSize()
    if (limit > 0 && approximateSize(out) > limit) return undefined
    return out
  }

  private remoteMaxPacketSize(): number {
    const configured = this.options.maxPacketSize
    const announced = this.remote?.maxPacketSize ?? 0
    if (configured === 0) return announced
    return announced === 0 ? configured : Math.min(configured, announced)
  }

  /** Sends queued QoS 1/2 messages while the remote's Receive Maximum allows. */
  private pump(): void {
    const remote = this.remote
    if (!remote || this.stateValue !== 'connected') return
    while (this.pending.length > 0 && !this.remoteSession.full) {
      const delivery = this.pending.shift() as Delivery
      this.send(remote, delivery.out, delivery)
    }
  }

  private send(remote: MqttLink<RemoteToken>, out: IPublishPacket, delivery: Delivery | null): void {
    remote.publish(out, delivery)
    // The remote socket is full: stop reading local deliveries until it drains (the local broker queues or,
    // for QoS 0, applies its slow-consumer rules), rather than buffering without bound here.
    if (remote.congested) this.localStream?.pause()
  }

  /** The remote acknowledged (or, v5, refused) a message: only now is it acknowledged locally. */
  private deliveredRemotely(delivery: Delivery | null, reasonCode: number): void {
    if (!delivery) return
    if (reasonCode >= 0x80) this.stats.dropped++
    else this.stats.forwarded++
    this.lastTraffic = Date.now()
    if (delivery.epoch === this.localEpoch) {
      this.outstanding.delete(delivery.local.messageId ?? 0)
      this.local?.acknowledge(delivery.local)
    }
    this.pump()
  }

  // ---- the remote side ----

  /** Neither stopped nor, with a lease, standing down for another node. */
  private get active(): boolean {
    return !this.stopping && (this.options.lease === undefined || this.leaseHeld)
  }

  private connectRemote(): void {
    if (!this.active || this.stateValue === 'connecting' || this.stateValue === 'connected') return
    this.setState('connecting')
    this.openRemote().catch((error: unknown) => this.remoteFailed(error instanceof Error ? error.message : String(error), false))
  }

  private async openRemote(): Promise<void> {
    const address = this.options.addresses[this.addressIndex] as Required<BridgeAddress>
    const socket = await openRemoteStream(address, this.options.tls, this.options.bindAddress, CONNECT_TIMEOUT_MS)
    if (!this.active) {
      socket.destroy()
      return
    }
    const { protocolVersion } = this.options
    const link = new MqttLink(socket, protocolVersion, this.remoteSession, {
      message: (packet) => this.onRemoteMessage(packet),
      drain: () => {
        this.localStream?.resume()
        this.pump()
      },
      closed: (reason) => this.onRemoteClosed(link, reason),
    })
    this.remote = link
    const bridgeBit = protocolVersion !== 5 && this.options.tryPrivate && !this.bridgeBitRefused
    try {
      await link.connect(this.connectPacket(bridgeBit))
    } catch (error) {
      if (error instanceof ConnectRefused && bridgeBit && error.returnCode === UNACCEPTABLE_PROTOCOL_VERSION) {
        // The remote does not know the bridge bit: connect as a plain client (loop prevention is then weaker).
        this.broker.logger.info({ bridge: this.name }, 'bridge: remote refused the bridge bit, connecting without it')
        this.bridgeBitRefused = true
        this.remote = null
        return this.openRemote()
      }
      const notAuthorized = protocolVersion === 5 ? NOT_AUTHORIZED : NOT_AUTHORIZED_V3
      if (error instanceof ConnectRefused && error.returnCode === notAuthorized && this.remoteWill() && !this.willRefused) {
        // MQTT 5 links (and links without the bridge bit) look like plain clients, and a broker may refuse their
        // wills under $SYS (Wren does): connect without the will; the '1'/'0' notifications are still published.
        this.broker.logger.info({ bridge: this.name }, 'bridge: remote refused the notification will, connecting without it')
        this.willRefused = true
        this.remote = null
        return this.openRemote()
      }
      throw error
    }
    await this.remoteLinked(link, address, bridgeBit)
  }

  private connectPacket(bridgeBit: boolean): IConnectPacket {
    const o = this.options
    const packet: IConnectPacket = {
      cmd: 'connect',
      protocolId: o.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: o.protocolVersion,
      clientId: o.remoteClientId,
      clean: o.cleanSession,
      keepalive: o.keepalive,
    }
    if (bridgeBit) (packet as IConnectPacket & { bridgeMode: boolean }).bridgeMode = true
    if (o.remoteUsername !== undefined) packet.username = o.remoteUsername
    if (o.remotePassword !== undefined) packet.password = Buffer.from(o.remotePassword)
    if (this.remoteWill() && !this.willRefused) packet.will = { topic: o.notificationTopic, payload: Buffer.from('0'), qos: 1, retain: true }
    if (o.protocolVersion === 5) packet.properties = { sessionExpiryInterval: o.cleanSession ? 0 : NEVER_EXPIRES, receiveMaximum: o.maxInflight }
    return packet
  }

  private remoteWill(): boolean {
    return this.options.notifications && !this.options.notificationsLocalOnly
  }

  private async remoteLinked(link: MqttLink<RemoteToken>, address: Required<BridgeAddress>, bridgeBit: boolean): Promise<void> {
    const { topics, protocolVersion, attemptUnsubscribe, notifications, notificationsLocalOnly } = this.options
    const subscriptions = topics.remoteSubscriptions()
    if (subscriptions.length > 0) {
      const v5 = protocolVersion === 5
      const granted = await link.subscribe(subscriptions.map(({ filter, qos }) => (v5 ? { topic: filter, qos, nl: true, rap: true, rh: 0 } : { topic: filter, qos })))
      const refused = subscriptions.filter((_subscription, index) => (granted[index] ?? 0x80) >= 0x80).map(({ filter }) => filter)
      // An 'in' rule the remote refuses would silently forward nothing: fail the attempt and retry, as Mosquitto does
      if (refused.length > 0 && this.options.fatalSubErrors) throw new Error(`the remote refused the subscription to ${refused.join(', ')}`)
      if (refused.length > 0) this.broker.logger.warn({ bridge: this.name, refused }, 'bridge: the remote refused subscriptions')
    }
    const stale = attemptUnsubscribe ? topics.outOnlyRemoteFilters() : []
    if (stale.length > 0) await link.unsubscribe(stale)
    if (!this.active) return
    if (!link.open) throw new Error('remote connection closed while subscribing')
    this.backoff.reset()
    if (notifications && !notificationsLocalOnly) link.publish(this.notification('1', 1), null)
    if (notifications) await this.notifyLocal('1')
    if (!this.active) return
    if (!link.open) throw new Error('remote connection closed')
    if (this.linkedBefore) this.stats.reconnects++
    this.linkedBefore = true
    this.linkedAddress = address
    this.setState('connected')
    this.emit('connected', address, bridgeBit)
    this.startIdleWatch()
    if (!this.options.roundRobin && this.addressIndex !== 0) this.watchPrimary()
    this.pump()
  }

  /**
   * Without round robin the first address is the main one: while connected to another, try the main one every
   * `cap` seconds of `restartTimeout`, and once it answers, leave for it (as Mosquitto does).
   */
  private watchPrimary(): void {
    const primary = this.options.addresses[0] as Required<BridgeAddress>
    let probing = false
    this.primaryTimer = setInterval(() => {
      if (probing) return
      probing = true
      const probe = netConnect({ host: primary.host, port: primary.port })
      probe.once('error', () => {
        probing = false
      })
      probe.once('connect', () => {
        probe.destroy()
        if (this.primaryTimer) clearInterval(this.primaryTimer)
        this.primaryTimer = null
        this.broker.logger.info({ bridge: this.name }, 'bridge: the main address answers again, moving back to it')
        // A clean DISCONNECT: the session stays on the remote side, the reconnection starts from the main address
        this.remote?.disconnect()
      })
    }, this.options.restartTimeout.cap * 1000)
  }

  private notification(payload: '0' | '1', qos: QoS): IPublishPacket {
    return { cmd: 'publish', topic: this.options.notificationTopic, payload: Buffer.from(payload), qos, retain: true, dup: false }
  }

  private notifyLocal(payload: '0' | '1'): Promise<void> {
    return this.broker.publish({ topic: this.options.notificationTopic, payload, qos: 1, retain: true }).catch((error: unknown) => {
      this.broker.logger.warn({ bridge: this.name, err: error }, 'bridge: local notification not published')
    })
  }

  /** A lazy bridge closes its remote link after `idleTimeout` seconds without traffic. */
  private startIdleWatch(): void {
    if (this.options.startType !== 'lazy') return
    const idleMs = this.options.idleTimeout * 1000
    this.lastTraffic = Date.now()
    this.idleTimer = setInterval(() => {
      if (Date.now() - this.lastTraffic < idleMs || this.pending.length > 0 || this.remoteSession.inflight > 0) return
      if (this.idleTimer) clearInterval(this.idleTimer)
      this.idleTimer = null
      const remote = this.remote
      this.remote = null
      if (this.options.notifications && !this.options.notificationsLocalOnly) remote?.publish(this.notification('0', 0), null)
      remote?.disconnect()
      if (this.options.notifications) void this.notifyLocal('0')
      this.setState('idle')
    }, Math.min(idleMs, 1000))
  }

  /**
   * The remote link of a connected bridge ended (a failure while connecting is reported by `openRemote`).
   * Messages in flight stay in the remote session and are resent with DUP; queued ones wait here, in order.
   */
  private onRemoteClosed(link: MqttLink<RemoteToken>, reason: string): void {
    if (this.remote !== link || this.stateValue !== 'connected') return
    this.remote = null
    if (this.idleTimer) clearInterval(this.idleTimer)
    if (this.primaryTimer) clearInterval(this.primaryTimer)
    this.idleTimer = this.primaryTimer = null
    this.localStream?.resume()
    if (this.stopping || !this.local) return
    if (this.options.notifications) void this.notifyLocal('0')
    this.remoteFailed(reason, true)
  }

  private remoteFailed(reason: string, wasConnected: boolean): void {
    if (!this.active) return
    const remote = this.remote
    this.remote = null
    remote?.destroy(reason)
    const count = this.options.addresses.length
    this.addressIndex = wasConnected && !this.options.roundRobin ? 0 : (this.addressIndex + 1) % count
    if (this.options.startType === 'once') {
      this.broker.logger.warn({ bridge: this.name, reason }, 'bridge: remote connection ended (start type once: not restarted)')
      this.setState('disconnected')
      this.emit('disconnected', reason, undefined)
      return
    }
    const delay = this.backoff.next()
    this.broker.logger.warn({ bridge: this.name, reason, delayMs: Math.round(delay) }, 'bridge: remote connection ended')
    this.setState('disconnected')
    this.emit('disconnected', reason, delay)
    if (this.options.startType === 'lazy' && this.pending.length < this.options.threshold) {
      this.setState('idle')
      return
    }
    this.timer = setTimeout(() => {
      this.timer = null
      this.connectRemote()
    }, delay)
  }

  /** A remote message matching an in/both rule: published locally, acknowledged to the remote once the local broker has it. */
  private onRemoteMessage(packet: IPublishPacket): void {
    this.lastTraffic = Date.now()
    const topic = this.options.topics.toLocal(packet.topic)
    const local = this.local
    if (topic === undefined || hopsExceeded(packet.properties, this.options.hopLimit) || !local) {
      this.stats.dropped++
      if (local || topic === undefined) this.remote?.acknowledge(packet)
      return
    }
    const out: IPublishPacket = { cmd: 'publish', topic, payload: packet.payload, qos: packet.qos, retain: packet.retain, dup: false }
    const properties = forwardedProperties(packet.properties, this.options.hopLimit)
    if (properties) out.properties = properties
    local.publish(out, packet)
    if (packet.qos === 0) this.stats.received++
  }

  /** The local broker has a message from the remote (or, v5, refused it): now the remote may forget it. */
  private deliveredLocally(remotePacket: IPublishPacket, reasonCode: number): void {
    if (reasonCode >= 0x80) this.stats.dropped++
    else this.stats.received++
    this.remote?.acknowledge(remotePacket)
  }
}

/** Fixed header, topic and payload: enough to compare with a Maximum Packet Size (properties add a little). */
function approximateSize(packet: IPublishPacket): number {
  const payload = typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length
  return 5 + 2 + Buffer.byteLength(packet.topic) + (packet.qos > 0 ? 2 : 0) + payload
}

/** Creates a bridge and starts it once the broker is ready (errors are logged); `bridge.stop()` ends it. */
export function createBridge(broker: Broker, options: BridgeOptions): Bridge {
  const bridge = new Bridge(broker, options)
  bridge.start().catch((error: unknown) => broker.logger.error({ bridge: bridge.name, err: error }, 'bridge: could not start'))
  return bridge
}

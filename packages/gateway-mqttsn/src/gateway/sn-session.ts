import type { Broker } from '@wren/core'
import { topicFilterProblem, topicNameProblem } from '@wren/core'
import type { IConnackPacket, IPublishPacket, QoS } from 'mqtt-packet'
import { SessionBridge, type BridgeHandler } from '@wren/gateway-kit'
import {
  ReturnCode,
  TopicIdType,
  shortTopicId,
  shortTopicName,
  type Connect,
  type Forwarder,
  type Publish,
  type SnMessage,
  type SubscribeTopic,
  type WillTopic,
} from '../codec/messages.js'
import type { RemoteInfo, ResolvedMqttSnOptions, SnCredentials } from './options.js'
import type { MqttSnStats } from './stats.js'
import { TopicRegistry, isReservedTopicId } from './topic-registry.js'

/** A client's state as §6.14 draws it, plus the steps of CONNECT. */
export type SnSessionState = 'will-topic' | 'will-message' | 'connecting' | 'active' | 'asleep' | 'awake' | 'gone'

/** What a session needs from its gateway. */
export interface SessionHost {
  readonly broker: Broker
  readonly options: ResolvedMqttSnOptions
  readonly stats: MqttSnStats
  readonly predefinedIdSet: ReadonlySet<number>
  /** Sends to the session's client; false when the datagram would exceed maxDatagramSize (nothing sent). */
  send(session: SnSession, message: SnMessage): boolean
  sessionClosed(session: SnSession): void
}

/** A message to the client that waits for its answer (Tretry/Nretry, §6.13). */
interface Awaiting {
  /** What the client must answer with; 'pubrel' waits on the broker, not the client. */
  kind: 'regack' | 'puback' | 'pubrec' | 'pubrel' | 'pubcomp'
  msgId: number
  /** Sent again on timeout; null while the broker is the one to answer. */
  message: SnMessage | null
  retries: number
  sentAt: number
  /** Acknowledged to the broker already (taken into custody while the client slept): the client's answer ends it here. */
  custodied: boolean
}

/** A QoS 1/2 PUBLISH from the client that the broker has not completed. */
interface Upstream {
  topicId: number
  phase: 'published' | 'pubrec'
}

interface Will extends WillTopic {
  payload: Buffer
}

/** Where a kept session's topic ids are stored with it (Persistence.sessionDataSet). */
const TOPICS_KEY = 'mqtt-sn:topics'

/** Syntax checks only: the broker applies its own length and level limits and answers with a reason code. */
const SYNTAX_ONLY = { maxLength: 0xffff, maxLevels: Number.MAX_SAFE_INTEGER }

/** Broker reason codes (MQTT 5) as the MQTT-SN return code a client understands. */
function returnCodeOf(reasonCode: number): ReturnCode {
  if (reasonCode < 0x80) return ReturnCode.Accepted
  // Quota exceeded, server busy/unavailable, rate too high: try later.
  if (reasonCode === 0x97 || reasonCode === 0x89 || reasonCode === 0x88 || reasonCode === 0x9f) return ReturnCode.Congestion
  return ReturnCode.NotSupported
}

/**
 * One MQTT-SN client: its CONNECT and will handshake, topic ids, QoS flows in both directions, keepalive and
 * sleep, translated onto an MQTT 5 session of the broker (a SessionBridge).
 */
export class SnSession implements BridgeHandler {
  state: SnSessionState
  clientId: string
  cleanSession: boolean
  /** Keepalive in seconds (CONNECT Duration); 0 = none. */
  duration: number
  lastSeen: number
  /** Epoch ms after which an asleep client is lost. */
  sleepDeadline = 0
  private readonly topics: TopicRegistry
  private readonly bridge: SessionBridge
  private will: Will | undefined
  private pendingWillTopic: WillTopic | undefined
  private readonly startedAt: number
  /** PUBLISHes from the broker not yet delivered to the client, oldest first. */
  private readonly queue: IPublishPacket[] = []
  private awaiting: Awaiting | null = null
  private readonly upstream = new Map<number, Upstream>()
  private readonly subscribing = new Map<number, number>()
  private nextMsgId = 1
  /** Seconds of the sleep the client announced with DISCONNECT. */
  private sleepDuration = 0
  /** Ids the gateway REGISTERed and the client has not acknowledged yet. */
  private readonly unconfirmed = new Set<number>()
  /** Queued QoS 1/2 messages the gateway acknowledged to the broker when they arrived for the sleeping client. */
  private readonly custodied = new Set<IPublishPacket>()
  /** A write of the topic ids to the persistence adapter is under way; `topicsChanged` asks for another after it. */
  private savingTopics = false
  private topicsChanged = false

  constructor(
    private readonly host: SessionHost,
    public key: string,
    public remote: RemoteInfo,
    public forwarder: Forwarder | undefined,
    connect: Connect,
  ) {
    const now = Date.now()
    this.startedAt = now
    this.lastSeen = now
    this.clientId = connect.clientId
    this.cleanSession = connect.cleanSession
    this.duration = connect.duration
    this.topics = new TopicRegistry(host.options.maxRegistrationsPerClient, host.predefinedIdSet)
    this.bridge = new SessionBridge(host.broker, { transport: 'mqtt-sn', remoteAddress: remote.address, remotePort: remote.port }, this)
    if (connect.will) {
      this.state = 'will-topic'
      this.reply({ type: 'willtopicreq' })
    } else {
      this.state = 'connecting'
      this.openBrokerSession()
    }
  }

  get bufferedCount(): number {
    return this.queue.length
  }

  /** A datagram from this client. */
  receive(message: SnMessage): void {
    this.lastSeen = Date.now()
    switch (message.type) {
      case 'connect':
        // A retransmitted CONNECT while the handshake runs: repeat where we are.
        if (this.state === 'will-topic') this.reply({ type: 'willtopicreq' })
        else if (this.state === 'will-message') this.reply({ type: 'willmsgreq' })
        return
      case 'willtopic':
        if (this.state !== 'will-topic') return
        this.pendingWillTopic = message.will
        if (message.will === undefined) {
          this.state = 'connecting'
          this.openBrokerSession()
        } else {
          this.state = 'will-message'
          this.reply({ type: 'willmsgreq' })
        }
        return
      case 'willmsg':
        if (this.state !== 'will-message' || this.pendingWillTopic === undefined) return
        this.will = { ...this.pendingWillTopic, payload: message.payload }
        this.state = 'connecting'
        this.openBrokerSession()
        return
      case 'register':
        return this.onRegister(message.msgId, message.topicName)
      case 'regack':
        return this.onRegack(message.topicId, message.msgId, message.returnCode)
      case 'publish':
        return this.onClientPublish(message)
      case 'puback':
        return this.onClientPuback(message.topicId, message.msgId, message.returnCode)
      case 'pubrec':
        return this.onClientPubrec(message.msgId)
      case 'pubrel':
        return this.onClientPubrel(message.msgId)
      case 'pubcomp':
        return this.onClientPubcomp(message.msgId)
      case 'subscribe':
        return this.onSubscribe(message.msgId, message.qos, message)
      case 'unsubscribe':
        return this.onUnsubscribe(message.msgId, message)
      case 'pingreq':
        return this.onPingreq()
      case 'disconnect':
        return this.onDisconnect(message.duration)
      case 'willtopicupd':
        return this.onWillTopicUpdate(message.will)
      case 'willmsgupd':
        if (this.will !== undefined) this.will.payload = message.payload
        this.reply({ type: 'willmsgresp', returnCode: ReturnCode.Accepted })
        return
      default:
        this.host.stats.datagramsDropped++
    }
  }

  /** A CONNECT for a sleeping client (§6.14): it is active again, on whatever address it now uses. */
  resume(connect: Connect): void {
    this.duration = connect.duration
    this.state = 'active'
    this.lastSeen = Date.now()
    this.reply({ type: 'connack', returnCode: ReturnCode.Accepted })
    this.resendAwaiting()
    this.pump()
  }

  /** A PINGREQ naming this client: an asleep client is awake until its buffered messages are delivered (§6.14). */
  wake(): void {
    this.lastSeen = Date.now()
    if (this.state !== 'asleep' && this.state !== 'awake') {
      this.reply({ type: 'pingresp' })
      return
    }
    this.state = 'awake'
    // Delivering what was buffered may take several round trips: the client gets a full sleep period for it.
    this.sleepDeadline = this.lastSeen + this.sleepDuration * 1000 * this.host.options.keepaliveGrace
    this.resendAwaiting()
    this.pump()
  }

  /** Timers, driven by the gateway's sweep: retransmissions, keepalive, sleep and CONNECT deadlines. */
  tick(now: number): void {
    const options = this.host.options
    switch (this.state) {
      case 'will-topic':
      case 'will-message':
      case 'connecting':
        if (now - this.startedAt > options.connectTimeout) this.close('connect-timeout', false)
        return
      case 'active':
        if (this.duration > 0 && now - this.lastSeen > this.duration * 1000 * options.keepaliveGrace) {
          this.close('keepalive-timeout', true)
          return
        }
        break
      case 'asleep':
      case 'awake':
        if (now > this.sleepDeadline) {
          this.close('sleep-timeout', true)
          return
        }
        if (this.state === 'asleep') return
        break
      case 'gone':
        return
    }
    const awaiting = this.awaiting
    if (awaiting !== null && awaiting.message !== null && now - awaiting.sentAt >= options.retryInterval) {
      if (awaiting.retries >= options.maxRetries) {
        this.close('retries-exhausted', true)
        return
      }
      awaiting.retries++
      this.resendAwaiting()
    }
    const keepAlive = this.bridge.serverKeepAlive
    if (keepAlive > 0 && now - this.bridge.lastWrite > (keepAlive * 1000) / 2) this.bridge.ping()
  }

  /**
   * Ends the client's session. `lost` publishes its will first (keepalive, sleep or retries ran out); otherwise
   * the will is discarded, as after a DISCONNECT.
   */
  close(reason: string, lost: boolean): void {
    if (this.state === 'gone') return
    const wasConnected = this.state === 'active' || this.state === 'asleep' || this.state === 'awake'
    this.state = 'gone'
    if (!wasConnected) {
      this.bridge.destroy()
    } else {
      if (lost && this.will !== undefined) {
        const will = this.will
        this.bridge.publish(will.topic, will.payload, will.qos, will.retain, this.freeUpstreamId())
      }
      // In order after the will: the broker routes it, then ends the session as a clean DISCONNECT would.
      this.bridge.disconnect()
    }
    this.host.broker.logger.debug({ clientId: this.clientId, reason }, 'mqtt-sn client session ended')
    this.host.sessionClosed(this)
  }

  // --- the broker's side (BridgeHandler) ---

  onConnack(packet: IConnackPacket): void {
    if (this.state !== 'connecting') return
    const code = packet.reasonCode ?? packet.returnCode ?? 0
    if (code !== 0) {
      this.reply({ type: 'connack', returnCode: code < 0x80 ? ReturnCode.NotSupported : returnCodeOf(code) })
      this.close('connect-refused', false)
      return
    }
    // A kept session brings back its topic ids (§6.5: registrations live with the session), from the broker's
    // persistence adapter: they survive a restart where the session does. Until read, the client waits for CONNACK.
    if (!this.cleanSession && packet.sessionPresent) this.restoreTopics()
    else this.activate()
  }

  private activate(): void {
    this.state = 'active'
    this.reply({ type: 'connack', returnCode: ReturnCode.Accepted })
    this.pump()
  }

  private restoreTopics(): void {
    this.host.broker.persistence.sessionDataGet(this.clientId, TOPICS_KEY).then(
      (saved) => {
        if (this.state !== 'connecting') return
        if (saved !== undefined) this.topics.restore(saved)
        this.activate()
      },
      (error: unknown) => {
        if (this.state !== 'connecting') return
        this.host.broker.logger.warn({ err: error, clientId: this.clientId }, 'mqtt-sn: could not read the topic ids of a kept session')
        this.reply({ type: 'connack', returnCode: ReturnCode.Congestion })
        this.close('topics-unreadable', false)
      },
    )
  }

  /**
   * Writes the confirmed topic ids of a kept session to the persistence adapter; one write at a time, the last
   * state winning. A clean session's ids end with it and are never written.
   */
  private saveTopics(): void {
    if (this.cleanSession) return
    if (this.savingTopics) {
      this.topicsChanged = true
      return
    }
    this.savingTopics = true
    this.topicsChanged = false
    this.host.broker.persistence.sessionDataSet(this.clientId, TOPICS_KEY, this.topics.serialize(this.unconfirmed)).then(
      () => this.topicsSaved(),
      (error: unknown) => {
        this.host.broker.logger.warn({ err: error, clientId: this.clientId }, 'mqtt-sn: could not save the topic ids of a kept session')
        this.topicsSaved()
      },
    )
  }

  private topicsSaved(): void {
    this.savingTopics = false
    if (this.topicsChanged) this.saveTopics()
  }

  onPublish(packet: IPublishPacket): void {
    if (this.queue.length >= this.host.options.maxBufferedPerSleeper && !this.makeRoomFor(packet)) {
      this.dropDelivery(packet)
      return
    }
    this.queue.push(packet)
    if (this.state === 'asleep' && packet.qos > 0) this.takeCustody(packet)
    this.pump()
  }

  /**
   * While the client sleeps, its QoS 1/2 messages are acknowledged to the broker as the gateway buffers them:
   * the broker's queue for it then never fills, so a sleeper never holds publishers back (nor is cut off as a
   * stuck client), and what exceeds the buffer is dropped here and counted.
   */
  private takeCustody(packet: IPublishPacket): void {
    this.custodied.add(packet)
    this.bridge.ack(packet.qos === 1 ? 'puback' : 'pubrec', packet.messageId ?? 0)
  }

  onAck(cmd: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', messageId: number, reasonCode: number): void {
    if (cmd === 'pubrel') {
      const awaiting = this.awaiting
      if (awaiting !== null && awaiting.kind === 'pubrel' && awaiting.msgId === messageId) {
        this.expect('pubcomp', messageId, { type: 'pubrel', msgId: messageId }, false)
      } else {
        this.bridge.ack('pubcomp', messageId)
      }
      return
    }
    const upstream = this.upstream.get(messageId)
    if (upstream === undefined) return
    if (cmd === 'pubrec' && reasonCode < 0x80) {
      upstream.phase = 'pubrec'
      this.reply({ type: 'pubrec', msgId: messageId })
      return
    }
    this.upstream.delete(messageId)
    if (cmd === 'pubcomp') this.reply({ type: 'pubcomp', msgId: messageId })
    else this.reply({ type: 'puback', topicId: upstream.topicId, msgId: messageId, returnCode: returnCodeOf(reasonCode) })
  }

  onSuback(messageId: number, reasonCodes: number[]): void {
    const topicId = this.subscribing.get(messageId)
    if (topicId === undefined) return
    this.subscribing.delete(messageId)
    const code = reasonCodes[0] ?? 0x80
    const returnCode = returnCodeOf(code)
    const qos = (returnCode === ReturnCode.Accepted ? code : 0) as QoS
    this.reply({ type: 'suback', qos, topicId: returnCode === ReturnCode.Accepted ? topicId : 0, msgId: messageId, returnCode })
  }

  onUnsuback(messageId: number): void {
    this.reply({ type: 'unsuback', msgId: messageId })
  }

  onClosed(reason: string): void {
    if (this.state === 'gone') return
    // The broker ended the session (taken over, shutting down, refused): the client learns it is disconnected.
    if (this.state === 'connecting' || this.state.startsWith('will')) this.reply({ type: 'connack', returnCode: ReturnCode.Congestion })
    else this.reply({ type: 'disconnect' })
    this.state = 'gone'
    this.host.broker.logger.debug({ clientId: this.clientId, reason }, 'mqtt-sn client session ended by the broker')
    this.host.sessionClosed(this)
  }

  // --- the client's side ---

  private openBrokerSession(): void {
    const credentials = this.host.options.credentials?.(this.clientId, this.remote)
    if (credentials instanceof Promise) {
      credentials.then(
        (resolved) => {
          if (this.state === 'connecting') this.connectBridge(resolved)
        },
        (error: unknown) => {
          this.host.broker.logger.warn({ err: error, clientId: this.clientId }, 'mqtt-sn: the credentials callback failed')
          if (this.state !== 'connecting') return
          this.reply({ type: 'connack', returnCode: ReturnCode.NotSupported })
          this.close('credentials-failed', false)
        },
      )
      return
    }
    this.connectBridge(credentials)
  }

  private connectBridge(credentials: SnCredentials | false | undefined): void {
    if (credentials === false) {
      this.reply({ type: 'connack', returnCode: ReturnCode.NotSupported })
      this.close('not-allowed', false)
      return
    }
    this.bridge.connect({
      clientId: this.clientId,
      clean: this.cleanSession,
      sessionExpiry: this.host.options.sessionExpiry,
      receiveMaximum: Math.min(this.host.options.maxBufferedPerSleeper, 0xffff),
      ...(credentials?.username === undefined ? {} : { username: credentials.username }),
      ...(credentials?.password === undefined ? {} : { password: credentials.password }),
    })
  }

  private get connected(): boolean {
    return this.state === 'active' || this.state === 'asleep' || this.state === 'awake'
  }

  private reply(message: SnMessage): boolean {
    return this.host.send(this, message)
  }

  private onRegister(msgId: number, topicName: string): void {
    if (!this.connected) return
    let returnCode: ReturnCode = ReturnCode.Accepted
    let topicId = 0
    if (topicNameProblem(topicName, SYNTAX_ONLY) !== undefined) returnCode = ReturnCode.NotSupported
    else {
      const id = this.topicIdFor(topicName)
      if (id === undefined) returnCode = ReturnCode.Congestion
      else topicId = id
    }
    this.reply({ type: 'regack', topicId, msgId, returnCode })
  }

  /** The topic's normal id for the client, assigned (and kept with the session) when new; undefined when full. */
  private topicIdFor(name: string): number | undefined {
    const known = this.topics.id(name)
    if (known !== undefined) return known
    const id = this.topics.register(name)
    if (id !== undefined) this.saveTopics()
    return id
  }

  /** The topic name a PUBLISH from the client addresses, or undefined when its id is unknown or reserved. */
  private topicOf(message: Publish): string | undefined {
    if (message.topicIdType === TopicIdType.Short) return shortTopicName(message.topicId)
    if (isReservedTopicId(message.topicId)) return undefined
    if (message.topicIdType === TopicIdType.Predefined) return this.host.options.predefined.get(message.topicId)
    return this.topics.name(message.topicId)
  }

  private onClientPublish(message: Publish): void {
    if (!this.connected) return
    const qos: QoS = message.qos === -1 ? 0 : message.qos
    const msgId = message.msgId
    const known = qos > 0 ? this.upstream.get(msgId) : undefined
    if (known !== undefined) {
      // A retransmission of what the broker has not completed: answer with where it stands.
      if (known.phase === 'pubrec') this.reply({ type: 'pubrec', msgId })
      return
    }
    const topic = this.topicOf(message)
    if (topic === undefined || topicNameProblem(topic, SYNTAX_ONLY) !== undefined) return this.refusePublish(message, ReturnCode.InvalidTopicId)
    if (qos > this.bridge.maximumQoS || (message.retain && !this.bridge.retainAvailable)) return this.refusePublish(message, ReturnCode.NotSupported)
    if (!this.bridge.writable || (qos > 0 && this.upstream.size >= this.host.options.maxInflightPerClient)) {
      return this.refusePublish(message, ReturnCode.Congestion)
    }
    this.host.stats.publishesReceived++
    if (qos > 0) this.upstream.set(msgId, { topicId: message.topicId, phase: 'published' })
    this.bridge.publish(topic, message.payload, qos, message.retain, msgId, message.dup)
  }

  private refusePublish(message: Publish, returnCode: ReturnCode): void {
    this.host.stats.publishesRejected++
    this.reply({ type: 'puback', topicId: message.topicId, msgId: message.msgId, returnCode })
  }

  private onClientPubrel(msgId: number): void {
    const upstream = this.upstream.get(msgId)
    if (upstream === undefined || upstream.phase !== 'pubrec') {
      // Already completed: the PUBCOMP was lost, send it again.
      this.reply({ type: 'pubcomp', msgId })
      return
    }
    this.bridge.ack('pubrel', msgId)
  }

  private onSubscribe(msgId: number, requested: number, topic: SubscribeTopic): void {
    if (!this.connected || this.subscribing.has(msgId)) return
    const qos = (requested === -1 ? 0 : requested) as QoS
    const refuse = (returnCode: ReturnCode): void => {
      this.reply({ type: 'suback', qos: 0, topicId: 0, msgId, returnCode })
    }
    let filter: string
    let topicId = 0
    if (topic.topicIdType === TopicIdType.Predefined) {
      const name = this.host.options.predefined.get(topic.topicId)
      if (name === undefined) return refuse(ReturnCode.InvalidTopicId)
      filter = name
      topicId = topic.topicId
    } else {
      filter = topic.topicName
      if (topicFilterProblem(filter, SYNTAX_ONLY) !== undefined) return refuse(ReturnCode.NotSupported)
      const concrete = !filter.includes('+') && !filter.includes('#')
      // A subscription by a full topic name gets its id in SUBACK, so no REGISTER precedes its PUBLISHes.
      if (topic.topicIdType === TopicIdType.Normal && concrete && !filter.startsWith('$share/')) {
        const id = this.topicIdFor(filter)
        if (id === undefined) return refuse(ReturnCode.Congestion)
        topicId = id
      }
    }
    this.subscribing.set(msgId, topicId)
    this.bridge.subscribe(msgId, filter, qos)
  }

  private onUnsubscribe(msgId: number, topic: SubscribeTopic): void {
    if (!this.connected) return
    const filter = topic.topicIdType === TopicIdType.Predefined ? this.host.options.predefined.get(topic.topicId) : topic.topicName
    if (filter === undefined) {
      this.reply({ type: 'unsuback', msgId })
      return
    }
    this.bridge.unsubscribe(msgId, filter)
  }

  private onPingreq(): void {
    if (this.state === 'asleep' || this.state === 'awake') {
      this.wake()
      return
    }
    if (this.connected) this.reply({ type: 'pingresp' })
  }

  private onDisconnect(duration: number | undefined): void {
    if (duration === undefined || duration === 0 || !this.connected) {
      this.reply({ type: 'disconnect' })
      this.close('disconnect', false)
      return
    }
    this.state = 'asleep'
    this.sleepDeadline = Date.now() + duration * 1000 * this.host.options.keepaliveGrace
    this.sleepDuration = duration
    for (const packet of this.queue) if (packet.qos > 0 && !this.custodied.has(packet)) this.takeCustody(packet)
    this.reply({ type: 'disconnect' })
  }

  private onWillTopicUpdate(will: WillTopic | undefined): void {
    if (will === undefined) this.will = undefined
    else this.will = { ...will, payload: this.will?.payload ?? Buffer.alloc(0) }
    this.reply({ type: 'willtopicresp', returnCode: ReturnCode.Accepted })
  }

  // --- delivery to the client ---

  /** Sends queued PUBLISHes while nothing waits for an answer; an awake client gets PINGRESP once all is out. */
  private pump(): void {
    if (this.state !== 'active' && this.state !== 'awake') return
    while (this.awaiting === null && this.queue.length > 0) {
      const packet = this.queue[0] as IPublishPacket
      const address = this.addressOf(packet.topic)
      if (address === 'registering') return
      this.queue.shift()
      if (address === undefined) {
        this.dropDelivery(packet)
        continue
      }
      const msgId = packet.qos > 0 ? (packet.messageId ?? 0) : 0
      const publish: Publish = {
        type: 'publish',
        dup: false,
        qos: packet.qos,
        retain: packet.retain,
        topicIdType: address.topicIdType,
        topicId: address.topicId,
        msgId,
        payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
      }
      if (!this.reply(publish)) {
        this.dropDelivery(packet)
        continue
      }
      this.host.stats.publishesSent++
      const custodied = this.custodied.delete(packet)
      if (packet.qos === 1) this.expect('puback', msgId, publish, custodied)
      else if (packet.qos === 2) this.expect('pubrec', msgId, publish, custodied)
    }
    if (this.state === 'awake' && this.awaiting === null && this.queue.length === 0) {
      this.state = 'asleep'
      this.sleepDeadline = Date.now() + this.sleepDuration * 1000 * this.host.options.keepaliveGrace
      this.reply({ type: 'pingresp' })
    }
  }

  /**
   * How a PUBLISH to the client names its topic: predefined id, short name, or a registered normal id. A topic
   * without one is REGISTERed first ('registering'); undefined when the client can hold no more ids.
   */
  private addressOf(topic: string): { topicIdType: TopicIdType; topicId: number } | 'registering' | undefined {
    const predefined = this.host.options.predefinedIds.get(topic)
    if (predefined !== undefined) return { topicIdType: TopicIdType.Predefined, topicId: predefined }
    const short = shortTopicId(topic)
    if (short !== undefined) return { topicIdType: TopicIdType.Short, topicId: short }
    const known = this.topics.id(topic)
    if (known !== undefined && !this.unconfirmed.has(known)) return { topicIdType: TopicIdType.Normal, topicId: known }
    const topicId = known ?? this.topics.register(topic)
    if (topicId === undefined) return undefined
    this.unconfirmed.add(topicId)
    const msgId = this.allocateMsgId()
    this.expect('regack', msgId, { type: 'register', topicId, msgId, topicName: topic }, false)
    return 'registering'
  }

  private onRegack(topicId: number, msgId: number, returnCode: ReturnCode): void {
    const awaiting = this.awaiting
    if (awaiting === null || awaiting.kind !== 'regack' || awaiting.msgId !== msgId) return
    this.awaiting = null
    this.unconfirmed.delete(topicId)
    if (returnCode !== ReturnCode.Accepted) {
      // The client will not take this topic: its messages cannot be delivered.
      this.topics.remove(topicId)
      const packet = this.queue.shift()
      if (packet !== undefined) this.dropDelivery(packet)
    } else {
      this.saveTopics()
    }
    this.pump()
  }

  private onClientPuback(topicId: number, msgId: number, returnCode: ReturnCode): void {
    if (returnCode === ReturnCode.InvalidTopicId && this.topics.name(topicId) !== undefined) {
      this.topics.remove(topicId)
      this.saveTopics()
    }
    const awaiting = this.awaiting
    if (awaiting === null || awaiting.kind !== 'puback' || awaiting.msgId !== msgId) {
      // A QoS 2 PUBLISH refused with PUBACK (§6.12 error case): it is over on the broker's side too.
      if (awaiting !== null && awaiting.kind === 'pubrec' && awaiting.msgId === msgId) this.finishRefused(awaiting)
      return
    }
    if (returnCode !== ReturnCode.Accepted) this.host.stats.messagesDropped++
    this.awaiting = null
    if (!awaiting.custodied) this.bridge.ack('puback', msgId)
    this.pump()
  }

  /** The broker's PUBREL that follows is answered at once (no awaited 'pubrel'), so the flow ends there. */
  private finishRefused(awaiting: Awaiting): void {
    this.host.stats.messagesDropped++
    this.awaiting = null
    if (!awaiting.custodied) this.bridge.ack('pubrec', awaiting.msgId)
    this.pump()
  }

  private onClientPubrec(msgId: number): void {
    const awaiting = this.awaiting
    if (awaiting === null || awaiting.msgId !== msgId) return
    if (awaiting.kind === 'pubcomp') {
      this.reply({ type: 'pubrel', msgId })
      return
    }
    if (awaiting.kind !== 'pubrec') return
    if (awaiting.custodied) {
      // The broker's side is complete: release to the client straight away.
      this.expect('pubcomp', msgId, { type: 'pubrel', msgId }, true)
      return
    }
    this.awaiting = { kind: 'pubrel', msgId, message: null, retries: 0, sentAt: Date.now(), custodied: false }
    this.bridge.ack('pubrec', msgId)
  }

  private onClientPubcomp(msgId: number): void {
    const awaiting = this.awaiting
    if (awaiting === null || awaiting.kind !== 'pubcomp' || awaiting.msgId !== msgId) return
    this.awaiting = null
    if (!awaiting.custodied) this.bridge.ack('pubcomp', msgId)
    this.pump()
  }

  private expect(kind: Awaiting['kind'], msgId: number, message: SnMessage, custodied: boolean): void {
    this.awaiting = { kind, msgId, message, retries: 0, sentAt: Date.now(), custodied }
    if (kind === 'regack' || kind === 'pubcomp') this.reply(message)
  }

  private resendAwaiting(): void {
    const awaiting = this.awaiting
    if (awaiting === null || awaiting.message === null) return
    awaiting.sentAt = Date.now()
    const message = awaiting.message
    this.reply(message.type === 'publish' ? { ...message, dup: true } : message)
  }

  /**
   * A full queue takes a QoS 1/2 message by dropping its oldest QoS 0 one (QoS 1/2 ones are bounded by the
   * session's Receive Maximum already); the head is kept while it waits for its REGACK.
   */
  private makeRoomFor(packet: IPublishPacket): boolean {
    if (packet.qos === 0) return false
    const from = this.awaiting?.kind === 'regack' ? 1 : 0
    for (let i = from; i < this.queue.length; i++) {
      const queued = this.queue[i] as IPublishPacket
      if (queued.qos !== 0) continue
      this.queue.splice(i, 1)
      this.dropDelivery(queued)
      return true
    }
    return false
  }

  /** A message the client cannot get (buffer full, too large, no topic id): counted, and completed on the broker's side. */
  private dropDelivery(packet: IPublishPacket): void {
    this.host.stats.messagesDropped++
    if (this.custodied.delete(packet)) return
    if (packet.qos === 1) this.bridge.ack('puback', packet.messageId ?? 0)
    else if (packet.qos === 2) this.bridge.ack('pubrec', packet.messageId ?? 0)
  }

  private allocateMsgId(): number {
    const id = this.nextMsgId
    this.nextMsgId = id >= 0xffff ? 1 : id + 1
    return id
  }

  /** A packet id no QoS 1/2 PUBLISH of the client is using, for publishing the will. */
  private freeUpstreamId(): number {
    let id = 1
    while (this.upstream.has(id)) id++
    return id
  }
}

import dgram from 'node:dgram'
import { EventEmitter } from 'node:events'
import { isIP } from 'node:net'
import { decodeDatagram } from '../codec/decode.js'
import { encodeDatagram } from '../codec/encode.js'
import { decodeUdpGatewayAddress, encodeUdpGatewayAddress } from '../codec/gateway-address.js'
import {
  ReturnCode,
  TopicIdType,
  shortTopicId,
  shortTopicName,
  type Forwarder,
  type GwInfo,
  type Publish,
  type SnMessage,
  type SnQos,
  type SubscribeTopic,
  type WillTopic,
} from '../codec/messages.js'

export interface MqttSnClientOptions {
  /** The gateway's UDP port. */
  port: number
  /** The gateway's address. Default 127.0.0.1. */
  host?: string
  clientId: string
  /** Keepalive seconds sent in CONNECT. Default 60. */
  duration?: number
  /** Default true. */
  cleanSession?: boolean
  will?: WillTopic & { payload: Buffer | string }
  /** Topic names the gateway predefines (id -> name), so `publish('name')` uses the id. */
  predefined?: Record<number, string>
  /** Milliseconds to wait for an answer before sending again (Tretry). Default 2000. */
  retryInterval?: number
  /** Retransmissions before a request fails (Nretry). Default 3. */
  maxRetries?: number
  /** Answer the gateway's PUBLISH and REGISTER automatically. Default true; off to test the gateway's retries. */
  autoAck?: boolean
  /** Send every message through this forwarder encapsulation (§5.5). */
  forwarder?: Forwarder
  /** Local UDP port to bind; default: any. */
  localPort?: number
  /** Local address to bind. Default 127.0.0.1. */
  localAddress?: string
  /**
   * Answer other clients' SEARCHGW with a GWINFO naming this client's gateway (§6.1), after a random delay of up
   * to `maxDelay` ms, and not at all if another GWINFO is heard meanwhile. Off unless given; the client answers
   * once it knows its gateway's id (from `gatewayId`, or a GWINFO or ADVERTISE the gateway sent it).
   */
  answerSearchGw?: { maxDelay: number }
  /** The id of the gateway at `host`:`port`, if known beforehand. */
  gatewayId?: number
}

/** A gateway found with SEARCHGW: its id and where it listens, from its own GWINFO or another client's. */
export interface FoundGateway {
  gatewayId: number
  address: string
  port: number
  /** Who answered: the gateway itself, or a client on its behalf. */
  answeredBy: 'gateway' | 'client'
}

/** A PUBLISH the client received, with its topic resolved to a name when the client knows it. */
export interface SnReceivedMessage {
  topic: string | undefined
  topicIdType: TopicIdType
  topicId: number
  payload: Buffer
  qos: SnQos
  retain: boolean
  dup: boolean
  msgId: number
}

export interface SubscribeResult {
  returnCode: ReturnCode
  topicId: number
  qos: number
}

type Waiter = {
  resolve: (message: SnMessage) => void
  reject: (error: Error) => void
  timer: NodeJS.Timeout
}

/**
 * A small MQTT-SN 1.2 client over UDP, for tests and simple devices: connect (with will), register, publish
 * at QoS -1/0/1/2, subscribe, ping, sleep and wake. Every request waits for its answer and is retransmitted
 * after `retryInterval`, as §6.13 asks.
 */
export class MqttSnClient extends EventEmitter<{ message: [SnReceivedMessage]; datagram: [SnMessage] }> {
  /** Everything received, in order (messages from the gateway, decoded). */
  readonly received: SnMessage[] = []
  /** PUBLISHes received and not yet taken with `nextMessage()`. */
  readonly inbox: SnReceivedMessage[] = []
  readonly topicIds = new Map<string, number>()
  private readonly topicNames = new Map<number, string>()
  private readonly waiters = new Map<string, Waiter>()
  private readonly inboxWaiters: Array<() => void> = []
  private nextId = 1
  private readonly host: string
  private readonly retryInterval: number
  private readonly maxRetries: number
  /** The id of the gateway at host:port, once known. */
  gatewayId: number | undefined
  /** Where each GWINFO received came from, for `discoverGateway()`. */
  private readonly gwinfoSenders = new WeakMap<SnMessage, dgram.RemoteInfo>()
  /** A GWINFO this client will send for its gateway, unless another client's or a gateway's is heard first. */
  private pendingGwInfo: NodeJS.Timeout | undefined

  constructor(
    readonly socket: dgram.Socket,
    readonly options: MqttSnClientOptions,
  ) {
    super()
    this.host = options.host ?? '127.0.0.1'
    this.retryInterval = options.retryInterval ?? 2000
    this.maxRetries = options.maxRetries ?? 3
    this.gatewayId = options.gatewayId
    for (const [id, name] of Object.entries(options.predefined ?? {})) this.topicIds.set(name, Number(id))
    socket.on('message', (bytes: Buffer, remote: dgram.RemoteInfo) => this.onDatagram(bytes, remote))
  }

  /** Opens a UDP socket (on 127.0.0.1 unless `localAddress` says otherwise); sends nothing yet. */
  static async open(options: MqttSnClientOptions): Promise<MqttSnClient> {
    const socket = dgram.createSocket('udp4')
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(options.localPort ?? 0, options.localAddress ?? '127.0.0.1', () => {
        socket.removeListener('error', reject)
        resolve()
      })
    })
    return new MqttSnClient(socket, options)
  }

  /** Opens and connects; throws unless the gateway accepts. */
  static async connect(options: MqttSnClientOptions): Promise<MqttSnClient> {
    const client = await MqttSnClient.open(options)
    const code = await client.connect()
    if (code !== ReturnCode.Accepted) {
      client.close()
      throw new Error(`MQTT-SN CONNECT refused with return code ${code}`)
    }
    return client
  }

  get localPort(): number {
    return this.socket.address().port
  }

  /** Sends one message (encapsulated when a forwarder is configured). */
  send(message: SnMessage): void {
    this.sendRaw(encodeDatagram(message, this.options.forwarder))
  }

  sendRaw(bytes: Buffer): void {
    this.socket.send(bytes, this.options.port, this.host)
  }

  /** CONNECT, the will handshake when a will is configured; resolves with CONNACK's return code. */
  async connect(): Promise<ReturnCode> {
    const will = this.options.will
    const connect: SnMessage = {
      type: 'connect',
      will: will !== undefined,
      cleanSession: this.options.cleanSession ?? true,
      duration: this.options.duration ?? 60,
      clientId: this.options.clientId,
    }
    if (will !== undefined) {
      await this.request(connect, 'willtopicreq')
      await this.request({ type: 'willtopic', will: { qos: will.qos, retain: will.retain, topic: will.topic } }, 'willmsgreq')
      const connack = await this.request({ type: 'willmsg', payload: Buffer.from(will.payload) }, 'connack')
      return (connack as { returnCode: ReturnCode }).returnCode
    }
    const connack = await this.request(connect, 'connack')
    return (connack as { returnCode: ReturnCode }).returnCode
  }

  /** REGISTERs a topic name; resolves with its id (throws on a refusal). */
  async register(topic: string): Promise<number> {
    const msgId = this.allocateId()
    const regack = (await this.request({ type: 'register', topicId: 0, msgId, topicName: topic }, `regack:${msgId}`)) as {
      topicId: number
      returnCode: ReturnCode
    }
    if (regack.returnCode !== ReturnCode.Accepted) throw new Error(`REGISTER ${topic} refused with return code ${regack.returnCode}`)
    this.remember(topic, regack.topicId)
    return regack.topicId
  }

  /**
   * Publishes to a topic name (a predefined id or short name when it is one, else registered first) or to an
   * explicit id. Resolves with the return code: Accepted for QoS 0 and -1, else from PUBACK / PUBCOMP.
   */
  async publish(
    topic: string | { topicIdType: TopicIdType; topicId: number },
    payload: Buffer | string,
    options: { qos?: SnQos; retain?: boolean } = {},
  ): Promise<ReturnCode> {
    const qos = options.qos ?? 0
    const address = typeof topic === 'string' ? await this.addressOf(topic, qos === -1) : topic
    const msgId = qos > 0 ? this.allocateId() : 0
    const publish: Publish = {
      type: 'publish',
      dup: false,
      qos,
      retain: options.retain === true,
      topicIdType: address.topicIdType,
      topicId: address.topicId,
      msgId,
      payload: Buffer.from(payload),
    }
    if (qos <= 0) {
      this.send(publish)
      return ReturnCode.Accepted
    }
    if (qos === 1) {
      const puback = (await this.request(publish, `puback:${msgId}`)) as { returnCode: ReturnCode }
      return puback.returnCode
    }
    const answer = await this.request(publish, `pubrec:${msgId}`)
    if (answer.type === 'puback') return answer.returnCode
    await this.request({ type: 'pubrel', msgId }, `pubcomp:${msgId}`)
    return ReturnCode.Accepted
  }

  /** Subscribes by name (wildcards allowed), short name, or `{ predefined: id }`. */
  async subscribe(topic: string | { predefined: number }, qos: 0 | 1 | 2 = 0): Promise<SubscribeResult> {
    const msgId = this.allocateId()
    const target = this.subscribeTarget(topic)
    const suback = (await this.request({ type: 'subscribe', dup: false, qos, msgId, ...target }, `suback:${msgId}`)) as SubscribeResult & { type: 'suback' }
    if (typeof topic === 'string' && suback.topicId !== 0 && suback.returnCode === ReturnCode.Accepted && target.topicIdType === TopicIdType.Normal) {
      this.remember(topic, suback.topicId)
    }
    return { returnCode: suback.returnCode, topicId: suback.topicId, qos: suback.qos }
  }

  async unsubscribe(topic: string | { predefined: number }): Promise<void> {
    const msgId = this.allocateId()
    await this.request({ type: 'unsubscribe', msgId, ...this.subscribeTarget(topic) }, `unsuback:${msgId}`)
  }

  /** PINGREQ (without client id) and its PINGRESP. */
  async ping(): Promise<void> {
    await this.request({ type: 'pingreq' }, 'pingresp')
  }

  /** DISCONNECT with a duration: the gateway holds messages until `wake()` (§6.14). */
  async sleep(duration: number): Promise<void> {
    await this.request({ type: 'disconnect', duration }, 'disconnect')
  }

  /** PINGREQ with the client id: the gateway delivers what it buffered, then PINGRESP; resolves on PINGRESP. */
  async wake(): Promise<void> {
    await this.request({ type: 'pingreq', clientId: this.options.clientId }, 'pingresp')
  }

  async disconnect(): Promise<void> {
    await this.request({ type: 'disconnect' }, 'disconnect')
  }

  async updateWillTopic(will: WillTopic | undefined): Promise<ReturnCode> {
    const answer = (await this.request({ type: 'willtopicupd', will }, 'willtopicresp')) as { returnCode: ReturnCode }
    return answer.returnCode
  }

  async updateWillMessage(payload: Buffer | string): Promise<ReturnCode> {
    const answer = (await this.request({ type: 'willmsgupd', payload: Buffer.from(payload) }, 'willmsgresp')) as { returnCode: ReturnCode }
    return answer.returnCode
  }

  /** SEARCHGW to the gateway's address; resolves with its GWINFO. */
  async searchGateway(radius = 1): Promise<GwInfo> {
    const gwinfo = (await this.request({ type: 'searchgw', radius }, 'gwinfo')) as GwInfo
    this.gatewayId = gwinfo.gatewayId
    return gwinfo
  }

  /**
   * SEARCHGW to `address`:`port` (a broadcast address, or wherever gateways or other clients listen); resolves
   * with the first GWINFO: a gateway's names the gateway at its sender's address, a client's carries the
   * gateway's address in GwAdd.
   */
  async discoverGateway(address: string, port: number, radius = 1): Promise<FoundGateway> {
    const reply = this.wait('gwinfo', null, this.retryInterval * (this.maxRetries + 1))
    this.socket.send(encodeDatagram({ type: 'searchgw', radius }, this.options.forwarder), port, address)
    const gwinfo = (await reply) as GwInfo
    const sender = this.gwinfoSenders.get(gwinfo)
    if (gwinfo.gatewayAddress === undefined) {
      return { gatewayId: gwinfo.gatewayId, address: sender?.address ?? address, port: sender?.port ?? port, answeredBy: 'gateway' }
    }
    const named = decodeUdpGatewayAddress(gwinfo.gatewayAddress)
    if (named === undefined) throw new Error(`GWINFO for gateway ${gwinfo.gatewayId} has a GwAdd this client cannot read`)
    return { gatewayId: gwinfo.gatewayId, address: named.address, port: named.port ?? port, answeredBy: 'client' }
  }

  /** Takes the next received PUBLISH (one that already arrived, or waits for it). */
  async nextMessage(timeoutMs = 5000): Promise<SnReceivedMessage> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const message = this.inbox.shift()
      if (message !== undefined) return message
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`${this.options.clientId}: no PUBLISH within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.inboxWaiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** Waits for the next datagram of a type (e.g. 'register', 'pubrel'), without answering for it. */
  waitFor(key: string, timeoutMs = 5000): Promise<SnMessage> {
    return this.wait(key, null, timeoutMs)
  }

  close(): void {
    clearTimeout(this.pendingGwInfo)
    for (const waiter of this.waiters.values()) {
      clearTimeout(waiter.timer)
      waiter.reject(new Error('client closed'))
    }
    this.waiters.clear()
    try {
      this.socket.close()
    } catch {
      // Already closed.
    }
  }

  private request(message: SnMessage, answer: string): Promise<SnMessage> {
    const reply = this.wait(answer, message, this.retryInterval)
    this.send(message)
    return reply
  }

  /** Resolves on the answer `key`; `resend` goes out again every `interval` ms, up to maxRetries times. */
  private wait(key: string, resend: SnMessage | null, interval: number): Promise<SnMessage> {
    if (this.waiters.has(key)) return Promise.reject(new Error(`already waiting for ${key}`))
    return new Promise((resolve, reject) => {
      let retries = 0
      const onTimeout = (): void => {
        if (resend === null || retries >= this.maxRetries) {
          this.waiters.delete(key)
          reject(new Error(`${this.options.clientId}: no ${key} from the gateway`))
          return
        }
        retries++
        this.send(resend.type === 'publish' ? { ...resend, dup: true } : resend)
        waiter.timer = setTimeout(onTimeout, interval)
      }
      const waiter: Waiter = { resolve, reject, timer: setTimeout(onTimeout, interval) }
      this.waiters.set(key, waiter)
    })
  }

  private settle(key: string, message: SnMessage): boolean {
    const waiter = this.waiters.get(key)
    if (waiter === undefined) return false
    this.waiters.delete(key)
    clearTimeout(waiter.timer)
    waiter.resolve(message)
    return true
  }

  private onDatagram(bytes: Buffer, remote: dgram.RemoteInfo): void {
    let message: SnMessage
    try {
      message = decodeDatagram(bytes).message
    } catch {
      return
    }
    this.received.push(message)
    this.emit('datagram', message)
    const autoAck = this.options.autoAck ?? true
    switch (message.type) {
      case 'searchgw':
        return this.onSearchGw(remote)
      case 'gwinfo':
        // Someone answered: this client's own answer is not needed any more (§6.1).
        clearTimeout(this.pendingGwInfo)
        this.pendingGwInfo = undefined
        if (message.gatewayAddress === undefined && this.isGateway(remote)) this.gatewayId = message.gatewayId
        this.gwinfoSenders.set(message, remote)
        this.settle('gwinfo', message)
        return
      case 'advertise':
        if (this.isGateway(remote)) this.gatewayId = message.gatewayId
        this.settle('advertise', message)
        return
      case 'register':
        this.remember(message.topicName, message.topicId)
        if (!this.settle('register', message) && autoAck) {
          this.send({ type: 'regack', topicId: message.topicId, msgId: message.msgId, returnCode: ReturnCode.Accepted })
        }
        return
      case 'publish':
        return this.onPublish(message, autoAck)
      case 'pubrel':
        if (!this.settle(`pubrel:${message.msgId}`, message) && autoAck) this.send({ type: 'pubcomp', msgId: message.msgId })
        return
      case 'puback':
        // A refused QoS 2 PUBLISH is answered with PUBACK instead of PUBREC.
        if (!this.settle(`puback:${message.msgId}`, message)) this.settle(`pubrec:${message.msgId}`, message)
        return
      case 'regack':
      case 'pubrec':
      case 'pubcomp':
      case 'suback':
      case 'unsuback':
        this.settle(`${message.type}:${message.msgId}`, message)
        return
      default:
        this.settle(message.type, message)
    }
  }

  private isGateway(remote: dgram.RemoteInfo): boolean {
    return remote.port === this.options.port && remote.address === this.host
  }

  /**
   * Another client searches (§6.1): answer for this client's gateway after a random delay, unless a GWINFO
   * arrives first. The answer goes to the searcher: on UDP its reply port is its own, not a well-known one.
   */
  private onSearchGw(searcher: dgram.RemoteInfo): void {
    const answer = this.options.answerSearchGw
    const gatewayId = this.gatewayId
    if (answer === undefined || gatewayId === undefined || this.pendingGwInfo !== undefined || this.isGateway(searcher)) return
    // GwAdd carries an IP address: a gateway known by host name is not announced.
    if (isIP(this.host) === 0) return
    const gatewayAddress = encodeUdpGatewayAddress(this.host, this.options.port)
    this.pendingGwInfo = setTimeout(() => {
      this.pendingGwInfo = undefined
      this.socket.send(encodeDatagram({ type: 'gwinfo', gatewayId, gatewayAddress }, this.options.forwarder), searcher.port, searcher.address)
    }, Math.random() * answer.maxDelay)
    this.pendingGwInfo.unref()
  }

  private onPublish(message: Publish, autoAck: boolean): void {
    const topic = message.topicIdType === TopicIdType.Short ? shortTopicName(message.topicId) : this.topicNames.get(message.topicId)
    const received: SnReceivedMessage = {
      topic,
      topicIdType: message.topicIdType,
      topicId: message.topicId,
      payload: message.payload,
      qos: message.qos,
      retain: message.retain,
      dup: message.dup,
      msgId: message.msgId,
    }
    this.settle('publish', message)
    this.inbox.push(received)
    this.emit('message', received)
    for (const wake of this.inboxWaiters.splice(0)) wake()
    if (!autoAck) return
    if (message.qos === 1) this.send({ type: 'puback', topicId: message.topicId, msgId: message.msgId, returnCode: ReturnCode.Accepted })
    else if (message.qos === 2) this.send({ type: 'pubrec', msgId: message.msgId })
  }

  private remember(topic: string, topicId: number): void {
    this.topicIds.set(topic, topicId)
    this.topicNames.set(topicId, topic)
  }

  private async addressOf(topic: string, qosMinus1: boolean): Promise<{ topicIdType: TopicIdType; topicId: number }> {
    const predefined = Object.entries(this.options.predefined ?? {}).find(([, name]) => name === topic)
    if (predefined !== undefined) return { topicIdType: TopicIdType.Predefined, topicId: Number(predefined[0]) }
    const short = shortTopicId(topic)
    if (short !== undefined) return { topicIdType: TopicIdType.Short, topicId: short }
    if (qosMinus1) throw new Error(`QoS -1 needs a predefined id or a short topic name, not ${topic}`)
    const known = this.topicIds.get(topic)
    return { topicIdType: TopicIdType.Normal, topicId: known ?? (await this.register(topic)) }
  }

  private subscribeTarget(topic: string | { predefined: number }): SubscribeTopic {
    if (typeof topic !== 'string') return { topicIdType: TopicIdType.Predefined, topicId: topic.predefined }
    if (shortTopicId(topic) !== undefined && !topic.includes('+') && !topic.includes('#')) return { topicIdType: TopicIdType.Short, topicName: topic }
    return { topicIdType: TopicIdType.Normal, topicName: topic }
  }

  private allocateId(): number {
    const id = this.nextId
    this.nextId = id >= 0xffff ? 1 : id + 1
    return id
  }
}

import type { Packet } from 'mqtt-packet'
import type { Duplex } from 'node:stream'
import type { BrokerCore } from '../core.js'
import { type DisconnectReason, ErrorCode, ProtocolViolation, ReasonCode, malformed, protocolError } from '../errors.js'
import type { ClientInfo } from '../hooks/hook-types.js'
import type { OutboundEntry } from '../persistence/persistence.js'
import type { Holdable, Session, SessionLink } from '../session/session.js'
import { Deque } from '../session/deque.js'
import type { ConnectionMeta, Message, ProtocolVersion } from '../types.js'
import { encodeAck, encodePacket, encodePublishV4For, encodePublishV4Header, type OutgoingPacket } from './packet-encoder.js'
import type { InboundAliases } from './inbound-aliases.js'
import { InboundQuota } from './inbound-quota.js'
import type { KeepaliveWatched } from './keepalive.js'
import { forwardedMessage } from './forward-policy.js'
import { PacketReader, type PacketSink } from './packet-reader.js'
import type { PendingConnect } from './pending-connect.js'
import { encodePublishV5, type OutboundAliases } from './publish-v5.js'
import { LARGE_PAYLOAD, payloadLength, splitParts } from './split-payload.js'
import { redirectReference } from './server-reference.js'

/** A packet handler as the connection calls it (the broker binds its context: handlers/index.ts). */
export type ConnectionHandler = (connection: Connection, packet: Packet, done: () => void) => void

type State = 'new' | 'connecting' | 'authenticating' | 'connected' | 'closed'

/** The slice of a connect the rest of the connection needs once CONNECT is accepted. */
export interface ConnectedInfo {
  clientId: string
  username: string | undefined
  protocolVersion: ProtocolVersion
  keepalive: number
}

/** The ClientInfo a host sees: one object per connection, stable for its whole life. */
class Client implements ClientInfo {
  id = ''
  protocolVersion: ProtocolVersion = 4
  username: string | undefined = undefined
  bridge = false
  data: Record<string, unknown> = {}
  closed = false
  constructor(readonly meta: ConnectionMeta) {}
}

const PACKET_ID_REQUIRED = new Set(['subscribe', 'unsubscribe', 'puback', 'pubrec', 'pubrel', 'pubcomp'])


const kConnection = Symbol('wren.connection')
type OwnedStream = Duplex & { [kConnection]: Connection }

// Listeners shared by every stream (the emitter is `this`): an idle connection carries no closures for them.
function streamData(this: OwnedStream, chunk: Buffer): void {
  this[kConnection].onData(chunk)
}
function streamError(this: OwnedStream, error: Error): void {
  this[kConnection].onStreamError(error)
}
function streamClosed(this: OwnedStream): void {
  this[kConnection].onStreamClosed()
}
function streamDrained(this: OwnedStream): void {
  this[kConnection].onDrain()
}
/** What a connection does later, on a timer or the next tick. */
type Later = 'onConnectTimeout' | 'endThrottle' | 'uncork' | 'checkProgress' | 'startShedding'
// Timers and ticks get the connection and the method's name as arguments: no closure per timer.
function later(connection: Connection, method: Later): void {
  connection[method]()
}

/**
 * Publishers let go together take turns, one PUBLISH each per round, all in one tick: the first one released must
 * not take all the room a subscriber made while the others stay held, and the writes of a round stay batched.
 */
const turns: Connection[] = []
let turnsQueued = false

function queueTurn(connection: Connection): void {
  turns.push(connection)
  if (turnsQueued) return
  turnsQueued = true
  process.nextTick(serveTurns)
}

function serveTurns(): void {
  for (let i = 0; i < turns.length; i++) {
    const connection = turns[i] as Connection
    if (connection.takeTurn()) turns.push(connection)
  }
  turns.length = 0
  turnsQueued = false
}

/**
 * What a held publisher may still send: answers to the broker's own deliveries. Holding them back could leave two
 * clients that publish to each other each waiting for the other's acknowledgements.
 */
const ANSWERS = new Set(['puback', 'pubrec', 'pubcomp', 'pingreq'])

/** How many packets may wait behind one that is being handled asynchronously before reading pauses. */
const BACKLOG_PAUSE = 256

/**
 * One client's stream: the parse loop, packets handled strictly in order, batched writes, keepalive,
 * backpressure, and an orderly close. What each packet means lives in `handlers/`.
 */
export class Connection implements SessionLink, Holdable, KeepaliveWatched, PacketSink {
  readonly client: Client
  state: State = 'new'
  session: Session | null = null
  protocolVersion: ProtocolVersion = 4
  will: Message | undefined = undefined
  willDelayInterval = 0
  /** Set by DISCONNECT (reason 0x00): the will must not be published [MQTT-3.14.4-3]. */
  graceful = false
  /** MQTT 5 limits the client announced in CONNECT. */
  clientReceiveMaximum = 65535
  clientMaximumPacketSize = Number.POSITIVE_INFINITY
  /** MQTT 5 client-to-server topic aliases, created on first use. */
  inboundAliases: InboundAliases | null = null
  outboundAliases: OutboundAliases | null = null
  /** The alias the last v5 PUBLISH encoding introduced (0: none), undone if that packet is dropped. */
  lastNewAlias = 0
  /** MQTT 5 Request Problem Information (default on): whether acks may carry a Reason String. */
  requestProblemInformation = true
  /** MQTT 5 QoS 1/2 publishes received whose exchange has not ended (the broker's Receive Maximum). */
  readonly inboundQuota: InboundQuota
  congested = false
  /** Congested for longer than `qos0HoldTime`: QoS 0 for this client is dropped rather than holding publishers. */
  shedding = false
  /** MQTT 5 enhanced authentication: the method named in CONNECT, the exchange's step, and the CONNECT it holds. */
  authMethod: string | undefined = undefined
  authStep = 0
  pendingConnect: PendingConnect | null = null
  /** Reached CONNACK success: counted as connected, so its end is reported. */
  wasConnected = false
  /** Watches a client that is congested or holds publishers: no progress for `drainTimeout` closes it. */
  private progressTimer: NodeJS.Timeout | null = null
  private sheddingTimer: NodeJS.Timeout | null = null
  /** Acks plus bytes that left the socket buffer when the progress timer was armed. */
  private progressMark = 0
  /** Bytes handed to the stream, and socket drains: with writableLength they tell how much the client read. */
  private written = 0
  /** Sessions holding this connection back as a publisher: no PUBLISH is handled while above 0. */
  private holds = 0
  private drainWaiters: Array<() => void> | null = null
  private readonly reader: PacketReader
  /** Packets that arrived while an earlier one was still being handled; created on first need. */
  private backlog: Deque<Packet> | null = null
  private busy = false
  /** Released with other held publishers: its waiting PUBLISHes go one per turn until its backlog is empty. */
  private takingTurns = false
  private inTurn = false
  private paused = false
  private throttled = false
  private rateWindowStart = 0
  private rateCount = 0
  private corked = false
  lastActivity = 0
  keepaliveTicks = 0
  /** Per-connection traffic for the admin API: plain counters, read when someone asks. */
  bytesIn = 0
  bytesOut = 0
  packetsIn = 0
  packetsOut = 0
  publishIn = 0
  publishOut = 0
  /** Epoch ms of CONNACK success (0 before). */
  connectedAt = 0
  keepalive = 0
  private connectTimer: NodeJS.Timeout | null
  private closeReason: DisconnectReason | null = null

  constructor(
    readonly ctx: BrokerCore,
    readonly stream: Duplex,
    meta: ConnectionMeta,
    private readonly handlers: Readonly<Record<string, ConnectionHandler>>,
    private readonly onClose: (connection: Connection, reason: DisconnectReason) => void,
  ) {
    this.client = new Client(meta)
    this.reader = new PacketReader(ctx.options, this)
    this.inboundQuota = new InboundQuota(ctx.options.receiveMaximum)
    ;(stream as OwnedStream)[kConnection] = this
    stream.on('data', streamData)
    stream.on('error', streamError)
    stream.on('close', streamClosed)
    stream.on('end', streamClosed)
    stream.on('drain', streamDrained)
    this.connectTimer = setTimeout(later, ctx.options.connectTimeout, this, 'onConnectTimeout')
    this.connectTimer.unref()
  }

  get sendQuota(): number {
    return Math.min(this.ctx.options.maxInflight, this.clientReceiveMaximum)
  }

  get isOpen(): boolean {
    return this.state !== 'closed'
  }

  onData(chunk: Buffer): void {
    this.ctx.stats.bytesReceived += chunk.length
    this.bytesIn += chunk.length
    this.lastActivity = this.ctx.keepalive.tick
    this.reader.push(chunk)
  }

  /** The protocol level from CONNECT decides how the rest of the stream is read and written. */
  useProtocol(version: ProtocolVersion): void {
    this.protocolVersion = version
    this.client.protocolVersion = version
    this.reader.fastPublish = version !== 5
    this.reader.protocolVersion = version
  }

  onPacket(packet: Packet): void {
    if (this.state === 'closed') return
    this.ctx.stats.messagesReceived++
    this.ctx.stats.packetsReceived[packet.cmd]++
    this.packetsIn++
    if (packet.cmd === 'publish') {
      this.ctx.stats.publishReceivedByQos[packet.qos]++
      this.publishIn++
      // Counted on arrival: a client may not have more QoS 1/2 publishes unacknowledged than our Receive Maximum.
      if (packet.qos > 0 && this.protocolVersion === 5 && !this.inboundQuota.take()) {
        this.fail(new ProtocolViolation(ErrorCode.ReceiveMaximumExceeded, ReasonCode.ReceiveMaximumExceeded, 'more unacknowledged QoS 1/2 publishes than Receive Maximum')) // [MQTT-3.3.4-9]
        return
      }
    }
    if (this.busy || this.throttled || this.holds > 0 || this.takingTurns) {
      if (!this.busy && !this.throttled && ANSWERS.has(packet.cmd)) {
        this.dispatch(packet)
        return
      }
      const backlog = (this.backlog ??= new Deque())
      backlog.push(packet)
      if (!this.paused && backlog.length >= BACKLOG_PAUSE) {
        this.paused = true
        this.stream.pause()
        if (this.holds > 0) this.session?.releasePublishers()
      }
      return
    }
    this.dispatch(packet)
  }

  /**
   * Per-client publish rate: the PUBLISH that uses up the current one-second window's budget is the last
   * one handled in it; what follows (already read or not) waits for the next window.
   */
  private countPublish(): void {
    const now = Date.now()
    if (now - this.rateWindowStart >= 1000) {
      this.rateWindowStart = now
      this.rateCount = 0
    }
    if (++this.rateCount < this.ctx.options.maxPublishRate) return
    this.throttled = true
    this.stream.pause()
    setTimeout(later, 1000 - (now - this.rateWindowStart), this, 'endThrottle').unref()
  }

  endThrottle(): void {
    this.throttled = false
    if (this.state === 'closed') return
    if (this.takingTurns) queueTurn(this)
    else this.drainBacklog()
  }

  private dispatch(packet: Packet): void {
    const handler = this.handlers[packet.cmd]
    if (!handler) {
      this.fail(malformed(`unexpected ${packet.cmd} packet from a client`))
      return
    }
    if (this.state === 'new' && packet.cmd !== 'connect') {
      this.fail(malformed(`first packet must be CONNECT, got ${packet.cmd}`)) // [MQTT-3.1.0-1]
      return
    }
    if (this.state === 'authenticating' && packet.cmd !== 'auth' && packet.cmd !== 'disconnect') {
      this.fail(protocolError(`${packet.cmd} before authentication completed`)) // [MQTT-4.12.0-4]
      return
    }
    if (packet.cmd === 'publish' && this.ctx.options.maxPublishRate > 0) this.countPublish()
    if (packet.messageId === 0 && PACKET_ID_REQUIRED.has(packet.cmd)) {
      this.fail(malformed(`${packet.cmd} with packet identifier 0`)) // [MQTT-2.3.1-1]
      return
    }
    this.busy = true
    try {
      handler(this, packet, this.onHandled)
    } catch (error) {
      this.ctx.logger.error({ clientId: this.client.id, err: error, cmd: packet.cmd }, 'packet handler threw')
      this.close('internal-error', ReasonCode.ImplementationSpecificError)
    }
  }

  /** Called when a handler is done: the next packet waits until then, which keeps per-client order. */
  private readonly onHandled = (): void => {
    this.busy = false
    if (!this.takingTurns) this.drainBacklog()
    else if (!this.inTurn) queueTurn(this)
  }

  /** Whether the next waiting packet may be handled now: nothing in progress, not throttled, held or closed. */
  private get canHandle(): boolean {
    return !this.busy && !this.throttled && this.holds === 0 && this.state !== 'closed'
  }

  private drainBacklog(): void {
    const backlog = this.backlog
    if (backlog) {
      while (this.canHandle && backlog.length > 0) this.dispatch(backlog.shift() as Packet)
    }
    if (!this.canHandle) return
    if (this.paused || this.stream.isPaused()) {
      this.paused = false
      this.stream.resume()
    }
  }

  onParseError(error: Error): void {
    if (!(error instanceof ProtocolViolation)) {
      this.fail(malformed(error.message))
      return
    }
    if (error.code !== ErrorCode.UnsupportedProtocolVersion) this.fail(error)
    else if (this.state === 'new') {
      // [MQTT-3.1.2-2] an unsupported protocol level gets CONNACK 0x01, then the connection closes
      this.writePacket({ cmd: 'connack', returnCode: 1, sessionPresent: false })
      this.close('unsupported-protocol-version')
    } else this.fail(malformed(error.message)) // a second CONNECT, and not even a well-formed one
  }

  onConnectTimeout(): void {
    this.connectTimer = null
    if (this.state !== 'connected' && this.state !== 'closed') this.close('connect-timeout')
  }

  onKeepaliveTimeout(): void {
    this.close('keepalive-timeout', ReasonCode.KeepAliveTimeout) // [MQTT-3.1.2-24]
  }

  onStreamError(error: Error): void {
    this.ctx.logger.debug({ clientId: this.client.id, err: error }, 'client stream error')
    if (this.state !== 'closed') this.ctx.events.emit('clientError', this.wasConnected ? this.client : null, error)
    this.close('socket-error')
  }

  onStreamClosed(): void {
    this.close('socket-closed')
  }

  /** Resolves when the socket has drained (or the connection closed). */
  drained(): Promise<void> {
    if (!this.congested || this.state === 'closed') return Promise.resolve()
    return new Promise((resolve) => (this.drainWaiters ??= []).push(resolve))
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters
    this.drainWaiters = null
    if (waiters) for (const resolve of waiters) resolve()
  }

  onDrain(): void {
    this.releaseDrainWaiters()
    if (!this.congested) return
    this.congested = false
    this.shedding = false
    if (this.sheddingTimer) {
      clearTimeout(this.sheddingTimer)
      this.sheddingTimer = null
    }
    this.session?.drain()
  }

  get takesQos0(): boolean {
    return !this.congested || (!this.shedding && this.stream.writableLength < 2 * this.ctx.options.maxSocketBuffer)
  }

  /** Holdable: a subscriber's full queue holds this publisher; PUBLISH packets wait until it is released. */
  hold(): void {
    if (++this.holds === 1 && this.paused) this.session?.releasePublishers()
  }

  get heldBack(): boolean {
    return this.holds > 0 && this.paused
  }

  release(): void {
    if (this.holds === 0) return
    // Resumed on the next tick: a release comes from inside another client's packet, and every publisher let go
    // at once then gets its turn in order rather than one of them refilling the queue first.
    if (--this.holds === 0 && this.state !== 'closed') {
      this.takingTurns = true
      queueTurn(this)
    }
  }

  /** One turn: waiting packets up to and including one PUBLISH; true while it has more for another round. */
  takeTurn(): boolean {
    const backlog = this.backlog
    this.inTurn = true
    while (this.canHandle && backlog !== null && backlog.length > 0) {
      const packet = backlog.shift() as Packet
      this.dispatch(packet)
      if (packet.cmd === 'publish') break
    }
    this.inTurn = false
    if (!this.canHandle) return false
    if (backlog !== null && backlog.length > 0) return true
    this.takingTurns = false
    this.drainBacklog()
    return false
  }

  /** SessionLink: arms the progress watch, once, while this client is congested or holds publishers back. */
  watchProgress(): void {
    if (this.progressTimer !== null || this.state === 'closed') return
    this.progressMark = this.progressCount()
    this.progressTimer = setTimeout(later, this.ctx.options.drainTimeout, this, 'checkProgress')
    this.progressTimer.unref()
  }

  /** Acknowledgements received plus bytes the client has read off the socket: grows while it makes progress. */
  private progressCount(): number {
    return (this.session?.progress ?? 0) + this.written - this.stream.writableLength
  }

  /**
   * A client that is behind (congested, or holding publishers) and has neither acknowledged anything nor read a
   * byte for `drainTimeout` is stuck: it must not hold memory or other clients hostage, so it is disconnected.
   */
  checkProgress(): void {
    this.progressTimer = null
    if (this.state === 'closed') return
    if (!this.congested && this.session?.holding !== true) return
    if (this.progressCount() !== this.progressMark) {
      this.watchProgress()
      return
    }
    this.ctx.logger.warn({ clientId: this.client.id, buffered: this.stream.writableLength, queued: this.session?.queuedCount }, 'slow consumer made no progress: disconnected')
    this.close('slow-consumer', ReasonCode.QuotaExceeded)
  }

  /** Congested for the whole QoS 0 hold: publishers go on, and QoS 0 for this client is dropped until it drains. */
  startShedding(): void {
    this.sheddingTimer = null
    if (!this.congested || this.state === 'closed') return
    this.shedding = true
    this.session?.releasePublishers()
  }

  /** Called once CONNECT is accepted. */
  connected(info: ConnectedInfo): void {
    if (this.connectTimer) {
      clearTimeout(this.connectTimer)
      this.connectTimer = null
    }
    this.state = 'connected'
    this.wasConnected = true
    this.reader.admitted()
    this.client.id = info.clientId
    this.client.username = info.username
    this.client.protocolVersion = info.protocolVersion
    this.connectedAt = Date.now()
    this.keepalive = info.keepalive
    if (info.keepalive > 0) {
      // [MQTT-3.1.2-24] one and a half times the keepalive without a packet closes the connection
      this.keepaliveTicks = this.ctx.keepalive.ticksFor(info.keepalive)
      this.lastActivity = this.ctx.keepalive.tick
      this.ctx.keepalive.watch(this)
    }
  }

  /** Writes one buffer; writes made in the same tick reach the socket as one batch. */
  writeBuffer(buffer: Buffer): void {
    this.ctx.stats.messagesSent++
    this.ctx.stats.packetSent(buffer[0] as number)
    this.packetsOut++
    this.writeBytes(buffer)
  }

  /** Writes bytes that are part of a packet already counted (a large payload written after its header). */
  private writeBytes(buffer: Buffer): void {
    if (this.state === 'closed') return
    if (!this.corked) {
      this.corked = true
      this.stream.cork()
      process.nextTick(later, this, 'uncork')
    }
    this.ctx.stats.bytesSent += buffer.length
    this.bytesOut += buffer.length
    this.written += buffer.length
    if (!this.stream.write(buffer) && this.stream.writableLength > this.ctx.options.maxSocketBuffer) this.becomeCongested()
  }

  uncork(): void {
    if (!this.corked) return
    this.corked = false
    this.stream.uncork()
  }

  private becomeCongested(): void {
    if (this.congested) return
    this.congested = true
    this.watchProgress()
    this.sheddingTimer = setTimeout(later, this.ctx.options.qos0HoldTime, this, 'startShedding')
    this.sheddingTimer.unref()
  }

  writePacket(packet: OutgoingPacket): void {
    this.writeBuffer(encodePacket(packet, this.protocolVersion))
  }

  writeAck(kind: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', packetId: number, reasonCode = 0, reason?: string): void {
    // The ack that ends an inbound QoS 1/2 exchange gives its Receive Maximum slot back.
    if (kind === 'puback' || kind === 'pubcomp' || (kind === 'pubrec' && reasonCode >= 0x80)) this.inboundQuota.release()
    if (reasonCode === 0 || this.protocolVersion < 5) this.writeBuffer(encodeAck(kind, packetId))
    else this.writePacket({ cmd: kind, messageId: packetId, reasonCode, ...this.reasonProperties(reason) })
  }

  /** A Reason String for an ack, unless the client asked for no problem information [MQTT-3.1.2-29]. */
  reasonProperties(reason: string | undefined): { properties?: { reasonString: string } } {
    return reason !== undefined && this.requestProblemInformation && this.ctx.options.reasonStrings ? { properties: { reasonString: reason } } : {}
  }

  sendPubrel(packetId: number): void {
    this.writeAck('pubrel', packetId)
  }

  /** SessionLink: the last checks before a message reaches this client, then the bytes. */
  sendPublish(entry: OutboundEntry, dup: boolean): boolean {
    if (this.state !== 'connected') return false
    let message = entry.message
    let remainingExpiry: number | undefined
    if (message.expiresAt !== undefined) {
      const left = message.expiresAt - Date.now()
      if (left <= 0) {
        this.ctx.stats.dropped.expired++
        return false
      }
      remainingExpiry = Math.ceil(left / 1000)
    }
    if (this.ctx.hooks.authorizeForward.length > 0) {
      const forwarded = forwardedMessage(this.ctx, this.client, message)
      if (forwarded === null) return false
      message = forwarded
    }
    const packetId = entry.packetId ?? 0
    const retain = entry.retain === true
    // A large payload goes to the socket after its header in one writev, as the reads it came in: never copied.
    const size = payloadLength(message)
    const separate = size >= LARGE_PAYLOAD
    let buffer: Buffer | null
    if (this.protocolVersion === 5) buffer = encodePublishV5(message, entry, dup, retain, remainingExpiry, this, !separate)
    else if (separate) buffer = encodePublishV4Header(message.topic, size, entry.qos, retain, dup, packetId)
    else buffer = encodePublishV4For(message, entry.qos, retain, dup, packetId)
    // [MQTT-3.1.2-25] never send a packet larger than the client's Maximum Packet Size: drop it for this client
    if (buffer === null || buffer.length + (separate ? size : 0) > this.clientMaximumPacketSize) {
      if (this.outboundAliases && this.lastNewAlias !== 0) this.outboundAliases.forget(message.topic, this.lastNewAlias)
      this.ctx.stats.messagesDropped++
      this.ctx.stats.dropped.tooLarge++
      return false
    }
    this.ctx.stats.publishSent++
    this.ctx.stats.publishSentByQos[entry.qos]++
    this.publishOut++
    this.writeBuffer(buffer)
    if (separate) {
      const parts = splitParts(message)
      if (parts === undefined) this.writeBytes(message.payload)
      else for (const part of parts) this.writeBytes(part)
    }
    return true
  }

  /** Ends the connection for a protocol violation: logged, and reported as a client error. */
  fail(error: ProtocolViolation): void {
    if (this.state === 'closed') return
    this.ctx.logger.info({ clientId: this.client.id || undefined, code: error.code, reason: error.message }, 'client disconnected for a protocol violation')
    this.ctx.events.emit('clientError', this.state === 'connected' ? this.client : null, error)
    this.close('protocol-error', error.reasonCode, error.message)
  }

  /**
   * Closes once. A v5 client that got as far as CONNACK first receives DISCONNECT with `reasonCode`
   * [MQTT-4.13.2-1]; everything after (will, session) is the broker's onClose.
   */
  close(reason: DisconnectReason, reasonCode?: number, reasonString?: string): void {
    if (this.state === 'closed') return
    const wasConnected = this.state === 'connected'
    if (wasConnected && reasonCode !== undefined && this.protocolVersion === 5) {
      const serverReference = redirectReference(this.ctx.options, reasonCode)
      // DISCONNECT may carry a Reason String whatever Request Problem Information says [MQTT-3.1.2-29]
      const properties = {
        ...(this.ctx.options.reasonStrings ? { reasonString: reasonString ?? reason } : {}),
        ...(serverReference === undefined ? {} : { serverReference }),
      }
      this.writePacket({ cmd: 'disconnect', reasonCode, properties })
    }
    this.state = 'closed'
    this.client.closed = true
    this.closeReason = reason
    if (this.keepaliveTicks > 0) this.ctx.keepalive.unwatch(this)
    if (this.connectTimer) clearTimeout(this.connectTimer)
    if (this.progressTimer) clearTimeout(this.progressTimer)
    if (this.sheddingTimer) clearTimeout(this.sheddingTimer)
    this.backlog = null
    this.releaseDrainWaiters()
    this.uncork()
    this.stream.end()
    // A peer that never reads would keep end() pending forever: destroy after a grace period.
    setTimeout(() => this.stream.destroy(), 1000).unref()
    this.onClose(this, reason)
  }

  /** Why the connection ended (read once it has). */
  get reason(): DisconnectReason {
    return this.closeReason ?? 'socket-closed'
  }
}

import type { Packet } from 'mqtt-packet'
import type { Duplex } from 'node:stream'
import type { BrokerCore } from '../core.js'
import { type DisconnectReason, ErrorCode, ProtocolViolation, ReasonCode, malformed, protocolError } from '../errors.js'
import type { ClientInfo } from '../hooks/hook-types.js'
import type { OutboundEntry } from '../persistence/persistence.js'
import type { Session, SessionLink } from '../session/session.js'
import type { ConnectionMeta, Message, ProtocolVersion, UserProperties } from '../types.js'
import { callLater } from './deferred-call.js'
import { DeliveryPolicy } from './delivery-policy.js'
import { forwardedMessage } from './forward-policy.js'
import type { InboundAliases } from './inbound-aliases.js'
import type { KeepaliveWatched } from './keepalive.js'
import { encodePacket, encodePublishV4For, encodePublishV4Header, type OutgoingPacket, PUBACK_LIKE, publishV4Length, writePublishV4At, writePublishV4HeaderAt } from './packet-encoder.js'
import type { OrderedAcks } from './ordered-acks.js'
import type { PendingConnect } from './pending-connect.js'
import { encodePlannedPublishV5, type OutboundAliases, planPublishV5, writePublishV5At } from './publish-v5.js'
import { LARGE_PAYLOAD, payloadLength, splitParts } from './split-payload.js'
import { redirectReference } from './server-reference.js'
import { SMALL_WRITE } from './transport.js'

/** A packet handler as the connection calls it (the broker binds its context: handlers/index.ts). */
export type ConnectionHandler = (connection: Connection, packet: Packet, done: () => void) => void

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
  closed = false
  private hostData: Record<string, unknown> | null = null
  constructor(readonly meta: ConnectionMeta) {}

  /** Created on first use: most clients never carry any. */
  get data(): Record<string, unknown> {
    return (this.hostData ??= {})
  }
}

/**
 * The largest packet MQTT can encode (a 268,435,455-byte remaining length behind a 5-byte fixed header): the
 * client's Maximum Packet Size until it announces one. A small integer, unlike Infinity, is kept in the object
 * itself rather than in a number box of its own on every connection.
 */
const LARGEST_PACKET = 268_435_460

const PACKET_ID_REQUIRED = new Set(['subscribe', 'unsubscribe', 'puback', 'pubrec', 'pubrel', 'pubcomp'])


/**
 * One client's protocol state: the session it is bound to, what CONNECT announced, keepalive and connect timeout,
 * packets checked and handed to their handler, PUBLISH encoded for this client, and an orderly close. The bytes
 * are transport.ts's, when a packet may be handled is delivery-policy.ts's, and what each packet means lives in
 * `handlers/`.
 */
export class Connection extends DeliveryPolicy implements SessionLink, KeepaliveWatched {
  override readonly client: Client
  override session: Session | null = null
  protocolVersion: ProtocolVersion = 4
  will: Message | undefined = undefined
  willDelayInterval = 0
  /** Set by DISCONNECT (reason 0x00): the will must not be published [MQTT-3.14.4-3]. */
  graceful = false
  /** The User Properties of the client's MQTT 5 DISCONNECT, for `clientDisconnected`. */
  goodbyeProperties: UserProperties | undefined = undefined
  /** MQTT 5 limits the client announced in CONNECT. */
  clientReceiveMaximum = 65535
  clientMaximumPacketSize = LARGEST_PACKET
  /** MQTT 5 client-to-server topic aliases, created on first use. */
  inboundAliases: InboundAliases | null = null
  outboundAliases: OutboundAliases | null = null
  /** The alias the last v5 PUBLISH encoding introduced (0: none), undone if that packet is dropped. */
  lastNewAlias = 0
  /** MQTT 5 Request Problem Information (default on): whether acks may carry a Reason String. */
  requestProblemInformation = true
  /** Acks of inbound publishes kept in order while their messages are stored; created on first need. */
  inboundAcks: OrderedAcks | null = null
  /** MQTT 5 enhanced authentication: the method named in CONNECT, the exchange's step, and the CONNECT it holds. */
  authMethod: string | undefined = undefined
  authStep = 0
  pendingConnect: PendingConnect | null = null
  /** Reached CONNACK success: counted as connected, so its end is reported. */
  wasConnected = false
  keepaliveTicks = 0
  /** Per-connection traffic for the admin API, beside the transport's byte counts. */
  packetsIn = 0
  publishIn = 0
  publishOut = 0
  /** Epoch ms of CONNACK success (0 before). */
  connectedAt = 0
  keepalive = 0
  private connectTimer: NodeJS.Timeout | null
  private closeReason: DisconnectReason | null = null

  constructor(
    ctx: BrokerCore,
    stream: Duplex,
    meta: ConnectionMeta,
    private readonly handlers: Readonly<Record<string, ConnectionHandler>>,
    private readonly onClose: (connection: Connection, reason: DisconnectReason) => void,
  ) {
    super(ctx, stream)
    this.client = new Client(meta)
    this.connectTimer = callLater(ctx.options.connectTimeout, this, 'onConnectTimeout')
    this.connectTimer.unref()
  }

  get sendQuota(): number {
    return Math.min(this.ctx.options.maxInflight, this.clientReceiveMaximum)
  }

  get isOpen(): boolean {
    return this.state !== 'closed'
  }

  /** The protocol level from CONNECT decides how the rest of the stream is read and written. */
  useProtocol(version: ProtocolVersion): void {
    this.protocolVersion = version
    this.client.protocolVersion = version
    this.reader.protocolVersion = version
  }

  override onPacket(packet: Packet): void {
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
    this.admit(packet)
  }

  protected override dispatch(packet: Packet): void {
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
    this.startHandling()
    try {
      handler(this, packet, this.onHandled)
    } catch (error) {
      this.ctx.logger.error({ clientId: this.client.id, err: error, cmd: packet.cmd }, 'packet handler threw')
      this.close('internal-error', ReasonCode.ImplementationSpecificError)
    }
  }

  override onParseError(error: Error): void {
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

  override onStreamError(error: Error): void {
    this.ctx.logger.debug({ clientId: this.client.id, err: error }, 'client stream error')
    if (this.state !== 'closed') this.ctx.events.emit('clientError', this.wasConnected ? this.client : null, error)
    this.close('socket-error')
  }

  override onStreamClosed(): void {
    this.close('socket-closed')
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

  writePacket(packet: OutgoingPacket): void {
    this.writeBuffer(encodePacket(packet, this.protocolVersion))
  }

  writeAck(kind: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', packetId: number, reasonCode = 0, reason?: string): void {
    // The ack that ends an inbound QoS 1/2 exchange gives its Receive Maximum slot back.
    if (kind === 'puback' || kind === 'pubcomp' || (kind === 'pubrec' && reasonCode >= 0x80)) this.inboundQuota.release()
    if (reasonCode === 0 || this.protocolVersion < 5) this.writeShortAck(PUBACK_LIKE[kind], packetId)
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
    const v5 = this.protocolVersion === 5
    // The whole packet's bytes, and those encoded here: all of them, or its header when the payload goes on its own.
    const length = v5 ? planPublishV5(message, entry, dup, remainingExpiry, this) : publishV4Length(message.topic, size, entry.qos)
    const encoded = separate ? length - size : length
    // A small encoding is written straight into the tick's write batch: no Buffer of its own.
    let buffer: Buffer | null = null
    if (encoded > SMALL_WRITE) {
      if (v5) buffer = encodePlannedPublishV5(length, message, entry, dup, retain, remainingExpiry, !separate)
      else if (separate) buffer = encodePublishV4Header(message.topic, size, entry.qos, retain, dup, packetId)
      else buffer = encodePublishV4For(message, entry.qos, retain, dup, packetId)
    }
    // [MQTT-3.1.2-25] never send a packet larger than the client's Maximum Packet Size: drop it for this client
    if (length > this.clientMaximumPacketSize) {
      if (this.outboundAliases && this.lastNewAlias !== 0) this.outboundAliases.forget(message.topic, this.lastNewAlias)
      this.ctx.stats.messagesDropped++
      this.ctx.stats.dropped.tooLarge++
      return false
    }
    this.ctx.stats.publishSent++
    this.ctx.stats.publishSentByQos[entry.qos]++
    this.publishOut++
    if (buffer === null) {
      const batch = this.room(encoded)
      if (v5) writePublishV5At(batch, this.batchEnd, message, entry, dup, retain, remainingExpiry, !separate)
      else if (separate) writePublishV4HeaderAt(batch, this.batchEnd, message.topic, size, entry.qos, retain, dup, packetId)
      else if (entry.qos > 0 || dup) writePublishV4At(batch, this.batchEnd, message.topic, message.payload, entry.qos, retain, dup, packetId)
      else if (!this.copyShared(message, retain, length)) {
        writePublishV4At(batch, this.batchEnd, message.topic, message.payload, 0, retain, false, 0)
        this.shareEncoded(message, retain)
      }
      this.batchedPacket(encoded)
    } else this.writeBuffer(buffer)
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
  override close(reason: DisconnectReason, reasonCode?: number, reasonString?: string): void {
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
    this.stopDelivery()
    this.endStream()
    this.onClose(this, reason)
  }

  /** Why the connection ended (read once it has). */
  get reason(): DisconnectReason {
    return this.closeReason ?? 'socket-closed'
  }
}

/** Why a message did not reach a subscriber (or anyone). */
export interface DropCounters {
  /** A client's queue (queued plus in flight) was at `maxQueued`. */
  queueFull: number
  /** QoS 0 to a client whose socket was over `maxSocketBuffer`. */
  slowConsumer: number
  /** The MQTT 5 message expiry passed before delivery. */
  expired: number
  /** Published where nobody (client, offline session or in-process listener) subscribes. */
  noSubscribers: number
  /** authorizePublish refused it, or authorizeForward refused one delivery. */
  notAuthorized: number
  /** Larger than the Maximum Packet Size its receiver announced. */
  tooLarge: number
}

/** MQTT control packet types by name, as mqtt-packet names them. */
export type PacketCounters = Record<
  'connect' | 'connack' | 'publish' | 'puback' | 'pubrec' | 'pubrel' | 'pubcomp' | 'subscribe' | 'suback' | 'unsubscribe' | 'unsuback' | 'pingreq' | 'pingresp' | 'disconnect' | 'auth',
  number
>

/** Packet type names by the type number in the first byte of a packet (0 and out-of-range are reserved). */
export const PACKET_TYPE_NAMES: ReadonlyArray<keyof PacketCounters | undefined> = [
  undefined, 'connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp',
  'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect', 'auth',
]

function packetCounters(): PacketCounters {
  return {
    connect: 0, connack: 0, publish: 0, puback: 0, pubrec: 0, pubrel: 0, pubcomp: 0, subscribe: 0,
    suback: 0, unsubscribe: 0, unsuback: 0, pingreq: 0, pingresp: 0, disconnect: 0, auth: 0,
  }
}

/**
 * Counters behind `$SYS/broker/...` and metrics exporters; plain numbers (and objects of plain numbers
 * created once) so that counting costs nothing on the hot path. Readers sample them when they report.
 */
export class BrokerStats {
  readonly startedAt = Date.now()
  clientsTotal = 0
  clientsConnected = 0
  clientsMaximum = 0
  messagesReceived = 0
  messagesSent = 0
  publishReceived = 0
  publishSent = 0
  bytesReceived = 0
  bytesSent = 0
  /** Messages dropped because a queue was full, the socket congested, or the client could not take them. */
  messagesDropped = 0
  /** PUBLISH packets received, by QoS (index 0..2). */
  readonly publishReceivedByQos: [number, number, number] = [0, 0, 0]
  /** PUBLISH packets sent, by the QoS of the delivery (index 0..2). */
  readonly publishSentByQos: [number, number, number] = [0, 0, 0]
  readonly dropped: DropCounters = { queueFull: 0, slowConsumer: 0, expired: 0, noSubscribers: 0, notAuthorized: 0, tooLarge: 0 }
  readonly packetsReceived: PacketCounters = packetCounters()
  /** Indexed by packet type number (the high nibble of a packet's first byte). */
  readonly packetsSentByType = new Float64Array(16)
  /** CONNECT authentication outcomes: accepted by the hooks (or no hooks), or refused. */
  readonly authentication = { success: 0, failure: 0 }
  /** Refusals by the authorization hooks, by what was refused. */
  readonly authorizationDenied = { publish: 0, subscribe: 0, forward: 0 }
  /** Streams handed to the broker, by `ConnectionMeta.transport` ('unknown' when not given). */
  readonly connectionsByTransport = new Map<string, number>()

  clientConnected(): void {
    this.clientsConnected++
    if (this.clientsConnected > this.clientsMaximum) this.clientsMaximum = this.clientsConnected
  }

  /** Counts a packet written, by the type in its first byte. */
  packetSent(firstByte: number): void {
    const type = firstByte >> 4
    this.packetsSentByType[type] = (this.packetsSentByType[type] as number) + 1
  }

  connectionOpened(transport: string): void {
    this.connectionsByTransport.set(transport, (this.connectionsByTransport.get(transport) ?? 0) + 1)
  }
}

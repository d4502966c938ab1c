import { generate, type Packet } from 'mqtt-packet'
import type { ProtocolVersion } from '../types.js'

export type OutgoingPacket = Packet

/**
 * Encodes any packet. The few fixed-shape 3.1/3.1.1 packets a broker sends are written here: mqtt-packet
 * builds a 65,536-entry number cache (about 6 MB) on first use, which a v3-only broker need never pay.
 */
export function encodePacket(packet: OutgoingPacket, protocolVersion: ProtocolVersion): Buffer {
  if (protocolVersion < 5) {
    switch (packet.cmd) {
      case 'connack':
        return Buffer.from([0x20, 2, packet.sessionPresent ? 1 : 0, packet.returnCode ?? 0])
      case 'suback': {
        const granted = packet.granted as number[]
        if (granted.length + 2 < 128) {
          const buffer = Buffer.allocUnsafe(4 + granted.length)
          buffer[0] = 0x90
          buffer[1] = 2 + granted.length
          buffer.writeUInt16BE(packet.messageId ?? 0, 2)
          for (let i = 0; i < granted.length; i++) buffer[4 + i] = granted[i] as number
          return buffer
        }
        break
      }
      case 'unsuback':
        return Buffer.from([0xb0, 2, ((packet.messageId ?? 0) >> 8) & 0xff, (packet.messageId ?? 0) & 0xff])
    }
  }
  return generate(packet, { protocolVersion })
}

/** Bytes an MQTT Variable Byte Integer of `value` takes (remaining lengths, property lengths, identifiers). */
export function varintLength(value: number): number {
  return value < 128 ? 1 : value < 16384 ? 2 : value < 2097152 ? 3 : 4
}

/** Writes `value` as an MQTT Variable Byte Integer at `pos`; returns the position after it. */
export function writeVarint(buffer: Buffer, pos: number, value: number): number {
  let rest = value
  do {
    let byte = rest % 128
    rest = Math.floor(rest / 128)
    if (rest > 0) byte |= 0x80
    buffer[pos++] = byte
  } while (rest > 0)
  return pos
}

/**
 * The hot path's encoder: a 3.1/3.1.1 PUBLISH written straight into one buffer, with no intermediate
 * chunks. (v5 PUBLISH carries properties and goes through mqtt-packet.)
 */
export function encodePublishV4(
  topic: string,
  payload: Buffer,
  qos: number,
  retain: boolean,
  dup: boolean,
  packetId: number,
): Buffer {
  const buffer = writePublishHeader(topic, payload.length, qos, retain, dup, packetId, payload.length)
  payload.copy(buffer, buffer.length - payload.length)
  return buffer
}

/** Everything of a v3/v4 PUBLISH but its payload, for payloads written to the socket on their own. */
export function encodePublishV4Header(topic: string, payloadLength: number, qos: number, retain: boolean, dup: boolean, packetId: number): Buffer {
  return writePublishHeader(topic, payloadLength, qos, retain, dup, packetId, 0)
}

/** Fixed header, topic and packet id, in a buffer with `room` spare bytes at the end. */
function writePublishHeader(topic: string, payloadLength: number, qos: number, retain: boolean, dup: boolean, packetId: number, room: number): Buffer {
  const topicLength = Buffer.byteLength(topic)
  const remaining = 2 + topicLength + (qos > 0 ? 2 : 0) + payloadLength
  const buffer = Buffer.allocUnsafe(1 + varintLength(remaining) + remaining - payloadLength + room)
  writePublishHeaderAt(buffer, 0, topic, topicLength, remaining, qos, retain, dup, packetId)
  return buffer
}

/** Writes a PUBLISH's fixed header, topic and packet id at `at`; returns the position of its payload. */
function writePublishHeaderAt(buffer: Buffer, at: number, topic: string, topicLength: number, remaining: number, qos: number, retain: boolean, dup: boolean, packetId: number): number {
  buffer[at] = 0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0)
  let pos = writeVarint(buffer, at + 1, remaining)
  buffer.writeUInt16BE(topicLength, pos)
  pos += 2
  pos += buffer.write(topic, pos, 'utf8')
  if (qos > 0) {
    buffer.writeUInt16BE(packetId, pos)
    pos += 2
  }
  return pos
}

/** Writes a 3.1/3.1.1 PUBLISH up to its payload at `at`, for a payload of `payloadLength` bytes written on its own. */
export function writePublishV4HeaderAt(buffer: Buffer, at: number, topic: string, payloadLength: number, qos: number, retain: boolean, dup: boolean, packetId: number): void {
  const topicLength = Buffer.byteLength(topic)
  writePublishHeaderAt(buffer, at, topic, topicLength, 2 + topicLength + (qos > 0 ? 2 : 0) + payloadLength, qos, retain, dup, packetId)
}

/** Bytes of a whole 3.1/3.1.1 PUBLISH. */
export function publishV4Length(topic: string, payloadLength: number, qos: number): number {
  const remaining = 2 + Buffer.byteLength(topic) + (qos > 0 ? 2 : 0) + payloadLength
  return 1 + varintLength(remaining) + remaining
}

/** Writes a whole 3.1/3.1.1 PUBLISH at `at` of a buffer with room for it (`publishV4Length`). */
export function writePublishV4At(buffer: Buffer, at: number, topic: string, payload: Buffer, qos: number, retain: boolean, dup: boolean, packetId: number): void {
  const topicLength = Buffer.byteLength(topic)
  const remaining = 2 + topicLength + (qos > 0 ? 2 : 0) + payload.length
  payload.copy(buffer, writePublishHeaderAt(buffer, at, topic, topicLength, remaining, qos, retain, dup, packetId))
}

/**
 * Fan-out sends one message to many clients in a row: the last encoding is kept and reused (QoS 0, the
 * same bytes for every v3/v4 subscriber) or copied with its packet id patched in (QoS 1/2).
 */
let lastMessage: object | null = null
let lastQos = -1
let lastRetain = false
let lastBuffer: Buffer | null = null
/** Offset of the packet id in `lastBuffer` (QoS 1/2 only). */
let lastIdOffset = 0

export function encodePublishV4For(message: { topic: string; payload: Buffer }, qos: number, retain: boolean, dup: boolean, packetId: number): Buffer {
  if (message !== lastMessage || qos !== lastQos || retain !== lastRetain || lastBuffer === null) {
    lastBuffer = encodePublishV4(message.topic, message.payload, qos, retain, false, packetId)
    lastMessage = message
    lastQos = qos
    lastRetain = retain
    lastIdOffset = qos > 0 ? lastBuffer.length - message.payload.length - 2 : 0
    if (!dup) return lastBuffer
  }
  if (qos === 0 && !dup) return lastBuffer
  const copy = Buffer.from(lastBuffer)
  if (dup) copy[0] = (copy[0] as number) | 0x08
  if (qos > 0) copy.writeUInt16BE(packetId, lastIdOffset)
  return copy
}

/** First byte of PUBACK, PUBREC, PUBREL and PUBCOMP. */
export const PUBACK_LIKE: Record<'puback' | 'pubrec' | 'pubrel' | 'pubcomp', number> = {
  puback: 0x40,
  pubrec: 0x50,
  pubrel: 0x62,
  pubcomp: 0x70,
}

/** PUBACK / PUBREC / PUBREL / PUBCOMP with success: four bytes in every protocol version. */
export function encodeAck(kind: keyof typeof PUBACK_LIKE, packetId: number): Buffer {
  const buffer = Buffer.allocUnsafe(4)
  buffer[0] = PUBACK_LIKE[kind]
  buffer[1] = 2
  buffer.writeUInt16BE(packetId, 2)
  return buffer
}

export const PINGRESP = Buffer.from([0xd0, 0x00])

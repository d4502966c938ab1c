import type { IConnectPacket } from 'mqtt-packet'

const CONNECT_HEADER = 0x10
const BRIDGE_BIT = 0x80
const RESERVED_FLAG = 0x01
const CLEAN_SESSION = 0x02
const WILL_FLAG = 0x04
const WILL_QOS = 0x18
const WILL_RETAIN = 0x20
const PASSWORD_FLAG = 0x40
const USERNAME_FLAG = 0x80

/**
 * An MQTT 3.1.1 or 3.1 CONNECT decoded straight from its frame, without mqtt-packet's buffer list and state
 * machine: every connect pays for that parser otherwise. The frame must have passed `frameViolation`: once all
 * of its fields are found within the frame, that walk has checked their strings and that nothing follows them.
 * Anything unusual (MQTT 5, a flag mqtt-packet refuses, a protocol name it does not know, a field running past
 * the frame) answers null and goes to mqtt-packet, which decides and words the error as before.
 */
export function decodeConnectV4(frame: Buffer, bodyStart: number): IConnectPacket | null {
  if (frame[0] !== CONNECT_HEADER) return null
  const end = frame.length
  let pos = bodyStart
  if (pos + 2 > end) return null
  const nameLength = frame.readUInt16BE(pos)
  pos += 2
  // The name, level, flags, keepalive and the client id's length.
  if (pos + nameLength + 6 > end) return null
  const protocolId = frame.toString('latin1', pos, pos + nameLength)
  if (protocolId !== 'MQTT' && protocolId !== 'MQIsdp') return null
  pos += nameLength
  const levelByte = frame[pos++] as number
  const level = levelByte & ~BRIDGE_BIT
  if (level !== 3 && level !== 4) return null
  const flags = frame[pos++] as number
  if ((flags & RESERVED_FLAG) !== 0) return null
  const hasWill = (flags & WILL_FLAG) !== 0
  if (!hasWill && (flags & (WILL_QOS | WILL_RETAIN)) !== 0) return null
  const keepalive = frame.readUInt16BE(pos)
  pos += 2
  const clientIdLength = frame.readUInt16BE(pos)
  pos += 2
  if (pos + clientIdLength > end) return null
  // The fixed-header fields mqtt-packet gives every packet, so both decoders hand on the same object.
  const packet: IConnectPacket & { bridgeMode?: boolean; retain: boolean; qos: 0; dup: boolean } = {
    cmd: 'connect',
    retain: false,
    qos: 0,
    dup: false,
    length: frame.length - bodyStart,
    protocolId,
    protocolVersion: level as 3 | 4,
    clean: (flags & CLEAN_SESSION) !== 0,
    keepalive,
    clientId: frame.toString('utf8', pos, pos + clientIdLength),
  }
  if ((levelByte & BRIDGE_BIT) !== 0) packet.bridgeMode = true
  pos += clientIdLength
  if (hasWill) {
    if (pos + 2 > end) return null
    const topicLength = frame.readUInt16BE(pos)
    pos += 2
    if (pos + topicLength + 2 > end) return null
    const topic = frame.toString('utf8', pos, pos + topicLength)
    pos += topicLength
    const payloadLength = frame.readUInt16BE(pos)
    pos += 2
    if (pos + payloadLength > end) return null
    // Copied: the will lives as long as the connection and must not pin the read it arrived in.
    const payload = Buffer.from(frame.subarray(pos, pos + payloadLength))
    pos += payloadLength
    packet.will = { topic, payload, qos: ((flags & WILL_QOS) >> 3) as 0 | 1 | 2, retain: (flags & WILL_RETAIN) !== 0 }
  }
  if ((flags & USERNAME_FLAG) !== 0) {
    if (pos + 2 > end) return null
    const length = frame.readUInt16BE(pos)
    pos += 2
    if (pos + length > end) return null
    packet.username = frame.toString('utf8', pos, pos + length)
    pos += length
  }
  if ((flags & PASSWORD_FLAG) !== 0) {
    if (pos + 2 > end) return null
    const length = frame.readUInt16BE(pos)
    pos += 2
    if (pos + length > end) return null
    packet.password = Buffer.from(frame.subarray(pos, pos + length))
  }
  return packet
}

// The load generator's MQTT 3.1.1 / 5.0 wire layer: packets are encoded once with mqtt-packet and then written
// as bytes, and incoming packets are only framed, never decoded into objects, so the generator spends its CPU
// on moving bytes rather than on a client library's bookkeeping. Every encoder takes the protocol level (4 or
// 5, default 4); a v5 packet carries no properties.
import mqttPacket from 'mqtt-packet'

export const PacketType = { CONNACK: 2, PUBLISH: 3, PUBACK: 4, PUBREC: 5, PUBREL: 6, PUBCOMP: 7, SUBACK: 9, PINGRESP: 13 }

/** First bytes of the two-byte-body acknowledgements the generator sends. */
export const AckHeader = { PUBACK: 0x40, PUBREC: 0x50, PUBREL: 0x62, PUBCOMP: 0x70 }

export const DISCONNECT = Buffer.from([0xe0, 0x00])

/** `credentials`, when given, is `{ username, password }`. */
export function encodeConnect(clientId, keepalive = 0, clean = true, protocolVersion = 4, credentials = undefined) {
  return mqttPacket.generate(
    { cmd: 'connect', protocolId: 'MQTT', protocolVersion, clean, clientId, keepalive, ...credentials },
    { protocolVersion },
  )
}

export function encodeSubscribe(messageId, topic, qos, protocolVersion = 4) {
  return mqttPacket.generate({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] }, { protocolVersion })
}

/**
 * A PUBLISH packet and where its variable bytes sit, so senders can patch the packet id or a timestamp in
 * place instead of encoding again.
 */
export function encodePublish({ topic, payload, qos, retain = false, messageId = 1, protocolVersion = 4 }) {
  const bytes = mqttPacket.generate(
    { cmd: 'publish', topic, payload, qos, retain, dup: false, messageId: qos > 0 ? messageId : undefined },
    { protocolVersion },
  )
  const payloadOffset = bytes.length - payload.length
  // v5: the packet id is followed by the (empty, one-byte) property length.
  const idBeforePayload = protocolVersion === 5 ? 3 : 2
  return { bytes, payloadOffset, messageIdOffset: qos > 0 ? payloadOffset - idBeforePayload : -1 }
}

/** Where a PUBLISH's payload starts, given where its body starts (v5: after the property length and properties). */
export function publishPayloadStart(buffer, bodyStart, qos, protocolVersion) {
  let pos = bodyStart + 2 + buffer.readUInt16BE(bodyStart) + (qos > 0 ? 2 : 0)
  if (protocolVersion < 5) return pos
  let propertiesLength = 0
  let multiplier = 1
  let byte
  do {
    byte = buffer[pos++]
    propertiesLength += (byte & 0x7f) * multiplier
    multiplier *= 128
  } while (byte & 0x80)
  return pos + propertiesLength
}

/** One PUBLISH per packet id 1..count, each its own buffer, for a QoS 1 sender's in-flight window. */
export function encodePublishPerMessageId(options, count) {
  const template = encodePublish({ ...options, messageId: 1 })
  const byId = [null]
  for (let id = 1; id <= count; id++) {
    const bytes = Buffer.from(template.bytes)
    bytes.writeUInt16BE(id, template.messageIdOffset)
    byId.push(bytes)
  }
  return { byId, payloadOffset: template.payloadOffset, messageIdOffset: template.messageIdOffset }
}

/**
 * Acknowledgements (PUBACK, PUBREC, PUBREL, PUBCOMP: `headers[i]` is the first byte) for `messageIds`, in one
 * buffer so a whole read's worth of acks costs one write.
 */
export function encodeAcks(headers, messageIds, count) {
  const out = Buffer.allocUnsafe(count * 4)
  for (let i = 0; i < count; i++) {
    const at = i * 4
    out[at] = headers[i]
    out[at + 1] = 0x02
    out.writeUInt16BE(messageIds[i], at + 2)
  }
  return out
}

/**
 * Frames a byte stream into MQTT packets and hands each to `onPacket(type, flags, buffer, bodyStart, bodyEnd)`.
 * A packet split across reads is kept until it is complete; large packets are gathered once, not re-copied on
 * every read.
 */
export class PacketFramer {
  constructor(onPacket) {
    this.onPacket = onPacket
    this.parts = []
    this.partsLength = 0
    this.needed = 0
  }

  push(chunk) {
    let buffer = chunk
    if (this.parts.length > 0) {
      this.parts.push(chunk)
      this.partsLength += chunk.length
      if (this.partsLength < this.needed) return
      buffer = Buffer.concat(this.parts, this.partsLength)
      this.parts = []
      this.partsLength = 0
    }
    let pos = 0
    const length = buffer.length
    while (pos < length) {
      let bodyLength = 0
      let multiplier = 1
      let at = pos + 1
      let complete = false
      while (at < length && at - pos <= 4) {
        const byte = buffer[at++]
        bodyLength += (byte & 0x7f) * multiplier
        multiplier *= 128
        if ((byte & 0x80) === 0) {
          complete = true
          break
        }
      }
      if (!complete || at + bodyLength > length) {
        this.needed = complete ? at + bodyLength - pos : length - pos + 1
        break
      }
      const first = buffer[pos]
      this.onPacket(first >> 4, first & 0x0f, buffer, at, at + bodyLength)
      pos = at + bodyLength
    }
    if (pos < length) {
      const rest = buffer.subarray(pos)
      this.parts.push(rest)
      this.partsLength = rest.length
    }
  }
}

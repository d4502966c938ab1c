import { MsgType, type Forwarder, type SnMessage, type SnQos, type SubscribeTopic, type WillTopic } from './messages.js'

/** Largest MQTT-SN message: the 3-octet Length field counts up to 65535 octets. */
export const MAX_MESSAGE_SIZE = 0xffff

interface FlagBits {
  dup?: boolean
  qos?: SnQos
  retain?: boolean
  will?: boolean
  cleanSession?: boolean
  topicIdType?: number
}

function flagsOctet(f: FlagBits): number {
  const qos = f.qos === undefined ? 0 : f.qos === -1 ? 3 : f.qos
  return (
    (f.dup === true ? 0x80 : 0) |
    (qos << 5) |
    (f.retain === true ? 0x10 : 0) |
    (f.will === true ? 0x08 : 0) |
    (f.cleanSession === true ? 0x04 : 0) |
    ((f.topicIdType ?? 0) & 0x03)
  )
}

function u16(value: number): Buffer {
  const out = Buffer.allocUnsafe(2)
  out.writeUInt16BE(value & 0xffff, 0)
  return out
}

function octets(...values: number[]): Buffer {
  return Buffer.from(values)
}

function willTopicBody(will: WillTopic | undefined): Buffer[] {
  if (will === undefined) return []
  return [octets(flagsOctet({ qos: will.qos, retain: will.retain })), Buffer.from(will.topic, 'utf8')]
}

function topicField(topic: SubscribeTopic): Buffer {
  return topic.topicIdType === 1 ? u16(topic.topicId) : Buffer.from(topic.topicName, 'utf8')
}

function body(message: SnMessage): Buffer[] {
  switch (message.type) {
    case 'advertise':
      return [octets(message.gatewayId), u16(message.duration)]
    case 'searchgw':
      return [octets(message.radius)]
    case 'gwinfo':
      return message.gatewayAddress === undefined ? [octets(message.gatewayId)] : [octets(message.gatewayId), message.gatewayAddress]
    case 'connect':
      return [
        octets(flagsOctet({ will: message.will, cleanSession: message.cleanSession }), 0x01),
        u16(message.duration),
        Buffer.from(message.clientId, 'utf8'),
      ]
    case 'connack':
    case 'willtopicresp':
    case 'willmsgresp':
      return [octets(message.returnCode)]
    case 'willtopicreq':
    case 'willmsgreq':
    case 'pingresp':
      return []
    case 'willtopic':
    case 'willtopicupd':
      return willTopicBody(message.will)
    case 'willmsg':
    case 'willmsgupd':
      return [message.payload]
    case 'register':
      return [u16(message.topicId), u16(message.msgId), Buffer.from(message.topicName, 'utf8')]
    case 'regack':
    case 'puback':
      return [u16(message.topicId), u16(message.msgId), octets(message.returnCode)]
    case 'publish':
      return [
        octets(flagsOctet(message)),
        u16(message.topicId),
        u16(message.msgId),
        message.payload,
      ]
    case 'pubcomp':
    case 'pubrec':
    case 'pubrel':
    case 'unsuback':
      return [u16(message.msgId)]
    case 'subscribe':
      return [octets(flagsOctet(message)), u16(message.msgId), topicField(message)]
    case 'unsubscribe':
      return [octets(flagsOctet({ topicIdType: message.topicIdType })), u16(message.msgId), topicField(message)]
    case 'suback':
      return [octets(flagsOctet({ qos: message.qos })), u16(message.topicId), u16(message.msgId), octets(message.returnCode)]
    case 'pingreq':
      return message.clientId === undefined ? [] : [Buffer.from(message.clientId, 'utf8')]
    case 'disconnect':
      return message.duration === undefined ? [] : [u16(message.duration)]
  }
}

/** The MsgType octet of each message type. */
export const MSG_TYPE_OF: Readonly<Record<SnMessage['type'], number>> = {
  advertise: MsgType.ADVERTISE,
  searchgw: MsgType.SEARCHGW,
  gwinfo: MsgType.GWINFO,
  connect: MsgType.CONNECT,
  connack: MsgType.CONNACK,
  willtopicreq: MsgType.WILLTOPICREQ,
  willtopic: MsgType.WILLTOPIC,
  willmsgreq: MsgType.WILLMSGREQ,
  willmsg: MsgType.WILLMSG,
  register: MsgType.REGISTER,
  regack: MsgType.REGACK,
  publish: MsgType.PUBLISH,
  puback: MsgType.PUBACK,
  pubcomp: MsgType.PUBCOMP,
  pubrec: MsgType.PUBREC,
  pubrel: MsgType.PUBREL,
  subscribe: MsgType.SUBSCRIBE,
  suback: MsgType.SUBACK,
  unsubscribe: MsgType.UNSUBSCRIBE,
  unsuback: MsgType.UNSUBACK,
  pingreq: MsgType.PINGREQ,
  pingresp: MsgType.PINGRESP,
  disconnect: MsgType.DISCONNECT,
  willtopicupd: MsgType.WILLTOPICUPD,
  willtopicresp: MsgType.WILLTOPICRESP,
  willmsgupd: MsgType.WILLMSGUPD,
  willmsgresp: MsgType.WILLMSGRESP,
}

/** Encodes one message, with the 1-octet Length up to 255 octets and the 3-octet form above. Throws RangeError past 65535. */
export function encodeMessage(message: SnMessage): Buffer {
  const parts = body(message)
  let size = 0
  for (const part of parts) size += part.length
  const short = size + 2 <= 0xff
  const length = size + (short ? 2 : 4)
  if (length > MAX_MESSAGE_SIZE) throw new RangeError(`MQTT-SN message of ${length} octets exceeds ${MAX_MESSAGE_SIZE}`)
  const header = short ? octets(length, MSG_TYPE_OF[message.type]) : Buffer.concat([octets(0x01), u16(length), octets(MSG_TYPE_OF[message.type])])
  return Buffer.concat([header, ...parts], length)
}

/** Wraps an encoded message for a forwarder (§5.5): Length, 0xFE, Ctrl, Wireless Node Id, then the message. */
export function encapsulate(forwarder: Forwarder, encoded: Buffer): Buffer {
  const headerLength = 3 + forwarder.wirelessNodeId.length
  if (headerLength > 0xff) throw new RangeError('wireless node id too long for the encapsulation header')
  return Buffer.concat([octets(headerLength, MsgType.ENCAPSULATED, forwarder.ctrl), forwarder.wirelessNodeId, encoded])
}

/** Encodes a datagram: the message alone, or encapsulated for the forwarder it came through. */
export function encodeDatagram(message: SnMessage, forwarder?: Forwarder): Buffer {
  const encoded = encodeMessage(message)
  return forwarder === undefined ? encoded : encapsulate(forwarder, encoded)
}

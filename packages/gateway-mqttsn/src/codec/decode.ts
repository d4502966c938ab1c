import {
  MsgType,
  decodeUtf8,
  type Datagram,
  type Forwarder,
  type ReturnCode,
  type SnMessage,
  type SnQos,
  type SubscribeTopic,
  type TopicIdType,
  type WillTopic,
} from './messages.js'

/** A datagram that is not a well-formed MQTT-SN 1.2 message: the gateway drops it and counts it. */
export class MalformedDatagram extends Error {
  override name = 'MalformedDatagram'
}

function malformed(reason: string): never {
  throw new MalformedDatagram(reason)
}

interface Frame {
  type: number
  /** The octets after the MsgType field. */
  body: Buffer
}

/** Reads the 1- or 3-octet Length and the MsgType; `exact` requires the length to cover all of `bytes`. */
function readFrame(bytes: Buffer, exact: boolean): Frame & { length: number } {
  if (bytes.length < 2) malformed('shorter than a header')
  let length: number
  let headerSize: number
  if (bytes[0] === 0x01) {
    if (bytes.length < 4) malformed('3-octet length field cut short')
    length = bytes.readUInt16BE(1)
    headerSize = 4
  } else {
    length = bytes[0] as number
    headerSize = 2
  }
  if (length < headerSize) malformed(`length ${length} is shorter than its own header`)
  if (exact ? length !== bytes.length : length > bytes.length) {
    malformed(`length field says ${length} octets, datagram has ${bytes.length}`)
  }
  return { type: bytes[headerSize - 1] as number, body: bytes.subarray(headerSize, length), length }
}

/** Decodes one UDP datagram: one MQTT-SN message, possibly inside a forwarder encapsulation. Throws MalformedDatagram. */
export function decodeDatagram(bytes: Buffer): Datagram {
  const outer = readFrame(bytes, false)
  if (outer.type !== MsgType.ENCAPSULATED) {
    if (outer.length !== bytes.length) malformed(`length field says ${outer.length} octets, datagram has ${bytes.length}`)
    return { message: decodeBody(outer.type, outer.body) }
  }
  if (outer.body.length < 1) malformed('encapsulation without Ctrl octet')
  const forwarder: Forwarder = {
    ctrl: outer.body[0] as number,
    wirelessNodeId: Buffer.from(outer.body.subarray(1)),
  }
  const inner = readFrame(bytes.subarray(outer.length), true)
  if (inner.type === MsgType.ENCAPSULATED) malformed('nested encapsulation')
  return { message: decodeBody(inner.type, inner.body), forwarder }
}

function fixed(body: Buffer, size: number, what: string): void {
  if (body.length !== size) malformed(`${what} must have ${size} octets after MsgType, has ${body.length}`)
}

function atLeast(body: Buffer, size: number, what: string): void {
  if (body.length < size) malformed(`${what} needs at least ${size} octets after MsgType, has ${body.length}`)
}

function text(bytes: Buffer, what: string): string {
  const value = decodeUtf8(bytes)
  if (value === undefined) malformed(`${what} is not valid UTF-8`)
  return value
}

function returnCode(value: number): ReturnCode {
  if (value > 0x03) malformed(`unknown return code ${value}`)
  return value as ReturnCode
}

const QOS_FROM_BITS: readonly SnQos[] = [0, 1, 2, -1]

interface Flags {
  dup: boolean
  qos: SnQos
  retain: boolean
  will: boolean
  cleanSession: boolean
  topicIdType: number
}

function flags(octet: number): Flags {
  return {
    dup: (octet & 0x80) !== 0,
    qos: QOS_FROM_BITS[(octet >> 5) & 0x03] as SnQos,
    retain: (octet & 0x10) !== 0,
    will: (octet & 0x08) !== 0,
    cleanSession: (octet & 0x04) !== 0,
    topicIdType: octet & 0x03,
  }
}

function topicIdType(value: number): TopicIdType {
  if (value === 0x03) malformed('reserved TopicIdType 0b11')
  return value as TopicIdType
}

/** WILLTOPIC / WILLTOPICUPD: the empty form (no Flags, no topic) or an empty topic name both mean "no will". */
function willTopic(body: Buffer, what: string): WillTopic | undefined {
  if (body.length === 0) return undefined
  const f = flags(body[0] as number)
  if (f.qos === -1) malformed(`${what}: QoS -1 is not a will QoS`)
  const topic = text(body.subarray(1), `${what} topic`)
  if (topic === '') return undefined
  return { qos: f.qos, retain: f.retain, topic }
}

function subscribeTopic(type: TopicIdType, field: Buffer, what: string): SubscribeTopic {
  if (type === 1) {
    fixed(field, 2, `${what} with a predefined topic id`)
    return { topicIdType: 1, topicId: field.readUInt16BE(0) }
  }
  if (type === 2) {
    fixed(field, 2, `${what} with a short topic name`)
    return { topicIdType: 2, topicName: text(field, `${what} short topic name`) }
  }
  if (field.length === 0) malformed(`${what} with an empty topic name`)
  return { topicIdType: 0, topicName: text(field, `${what} topic name`) }
}

function decodeBody(type: number, body: Buffer): SnMessage {
  switch (type) {
    case MsgType.ADVERTISE:
      fixed(body, 3, 'ADVERTISE')
      return { type: 'advertise', gatewayId: body[0] as number, duration: body.readUInt16BE(1) }
    case MsgType.SEARCHGW:
      fixed(body, 1, 'SEARCHGW')
      return { type: 'searchgw', radius: body[0] as number }
    case MsgType.GWINFO: {
      atLeast(body, 1, 'GWINFO')
      const message: SnMessage = { type: 'gwinfo', gatewayId: body[0] as number }
      if (body.length > 1) message.gatewayAddress = Buffer.from(body.subarray(1))
      return message
    }
    case MsgType.CONNECT: {
      atLeast(body, 5, 'CONNECT')
      const f = flags(body[0] as number)
      if (body[1] !== 0x01) malformed(`CONNECT ProtocolId ${body[1]} is not 0x01`)
      return {
        type: 'connect',
        will: f.will,
        cleanSession: f.cleanSession,
        duration: body.readUInt16BE(2),
        clientId: text(body.subarray(4), 'CONNECT client id'),
      }
    }
    case MsgType.CONNACK:
      fixed(body, 1, 'CONNACK')
      return { type: 'connack', returnCode: returnCode(body[0] as number) }
    case MsgType.WILLTOPICREQ:
      fixed(body, 0, 'WILLTOPICREQ')
      return { type: 'willtopicreq' }
    case MsgType.WILLTOPIC:
      return { type: 'willtopic', will: willTopic(body, 'WILLTOPIC') }
    case MsgType.WILLMSGREQ:
      fixed(body, 0, 'WILLMSGREQ')
      return { type: 'willmsgreq' }
    case MsgType.WILLMSG:
      return { type: 'willmsg', payload: Buffer.from(body) }
    case MsgType.REGISTER:
      atLeast(body, 5, 'REGISTER')
      return {
        type: 'register',
        topicId: body.readUInt16BE(0),
        msgId: body.readUInt16BE(2),
        topicName: text(body.subarray(4), 'REGISTER topic name'),
      }
    case MsgType.REGACK:
      fixed(body, 5, 'REGACK')
      return { type: 'regack', topicId: body.readUInt16BE(0), msgId: body.readUInt16BE(2), returnCode: returnCode(body[4] as number) }
    case MsgType.PUBLISH: {
      atLeast(body, 5, 'PUBLISH')
      const f = flags(body[0] as number)
      return {
        type: 'publish',
        dup: f.dup,
        qos: f.qos,
        retain: f.retain,
        topicIdType: topicIdType(f.topicIdType),
        topicId: body.readUInt16BE(1),
        msgId: body.readUInt16BE(3),
        payload: Buffer.from(body.subarray(5)),
      }
    }
    case MsgType.PUBACK:
      fixed(body, 5, 'PUBACK')
      return { type: 'puback', topicId: body.readUInt16BE(0), msgId: body.readUInt16BE(2), returnCode: returnCode(body[4] as number) }
    case MsgType.PUBCOMP:
      fixed(body, 2, 'PUBCOMP')
      return { type: 'pubcomp', msgId: body.readUInt16BE(0) }
    case MsgType.PUBREC:
      fixed(body, 2, 'PUBREC')
      return { type: 'pubrec', msgId: body.readUInt16BE(0) }
    case MsgType.PUBREL:
      fixed(body, 2, 'PUBREL')
      return { type: 'pubrel', msgId: body.readUInt16BE(0) }
    case MsgType.SUBSCRIBE:
    case MsgType.UNSUBSCRIBE: {
      const what = type === MsgType.SUBSCRIBE ? 'SUBSCRIBE' : 'UNSUBSCRIBE'
      atLeast(body, 4, what)
      const f = flags(body[0] as number)
      const topic = subscribeTopic(topicIdType(f.topicIdType), body.subarray(3), what)
      const msgId = body.readUInt16BE(1)
      if (type === MsgType.UNSUBSCRIBE) return { type: 'unsubscribe', msgId, ...topic }
      return { type: 'subscribe', dup: f.dup, qos: f.qos, msgId, ...topic }
    }
    case MsgType.SUBACK: {
      fixed(body, 6, 'SUBACK')
      const qos = flags(body[0] as number).qos
      if (qos === -1) malformed('SUBACK granting QoS -1')
      return { type: 'suback', qos, topicId: body.readUInt16BE(1), msgId: body.readUInt16BE(3), returnCode: returnCode(body[5] as number) }
    }
    case MsgType.UNSUBACK:
      fixed(body, 2, 'UNSUBACK')
      return { type: 'unsuback', msgId: body.readUInt16BE(0) }
    case MsgType.PINGREQ: {
      if (body.length === 0) return { type: 'pingreq' }
      return { type: 'pingreq', clientId: text(body, 'PINGREQ client id') }
    }
    case MsgType.PINGRESP:
      fixed(body, 0, 'PINGRESP')
      return { type: 'pingresp' }
    case MsgType.DISCONNECT:
      if (body.length === 0) return { type: 'disconnect' }
      fixed(body, 2, 'DISCONNECT')
      return { type: 'disconnect', duration: body.readUInt16BE(0) }
    case MsgType.WILLTOPICUPD:
      return { type: 'willtopicupd', will: willTopic(body, 'WILLTOPICUPD') }
    case MsgType.WILLTOPICRESP:
      fixed(body, 1, 'WILLTOPICRESP')
      return { type: 'willtopicresp', returnCode: returnCode(body[0] as number) }
    case MsgType.WILLMSGUPD:
      return { type: 'willmsgupd', payload: Buffer.from(body) }
    case MsgType.WILLMSGRESP:
      fixed(body, 1, 'WILLMSGRESP')
      return { type: 'willmsgresp', returnCode: returnCode(body[0] as number) }
    default:
      return malformed(`unknown MsgType 0x${type.toString(16).padStart(2, '0')}`)
  }
}

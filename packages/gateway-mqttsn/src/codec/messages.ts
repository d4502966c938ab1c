/** MQTT-SN 1.2 message types (§5.2.2). */
export const MsgType = {
  ADVERTISE: 0x00,
  SEARCHGW: 0x01,
  GWINFO: 0x02,
  CONNECT: 0x04,
  CONNACK: 0x05,
  WILLTOPICREQ: 0x06,
  WILLTOPIC: 0x07,
  WILLMSGREQ: 0x08,
  WILLMSG: 0x09,
  REGISTER: 0x0a,
  REGACK: 0x0b,
  PUBLISH: 0x0c,
  PUBACK: 0x0d,
  PUBCOMP: 0x0e,
  PUBREC: 0x0f,
  PUBREL: 0x10,
  SUBSCRIBE: 0x12,
  SUBACK: 0x13,
  UNSUBSCRIBE: 0x14,
  UNSUBACK: 0x15,
  PINGREQ: 0x16,
  PINGRESP: 0x17,
  DISCONNECT: 0x18,
  WILLTOPICUPD: 0x1a,
  WILLTOPICRESP: 0x1b,
  WILLMSGUPD: 0x1c,
  WILLMSGRESP: 0x1d,
  ENCAPSULATED: 0xfe,
} as const

/** Return codes of CONNACK, REGACK, PUBACK, SUBACK, WILLTOPICRESP and WILLMSGRESP (§5.3.10). */
export const ReturnCode = {
  Accepted: 0x00,
  Congestion: 0x01,
  InvalidTopicId: 0x02,
  NotSupported: 0x03,
} as const
export type ReturnCode = (typeof ReturnCode)[keyof typeof ReturnCode]

/** The TopicIdType flag (§5.3.4): 0 = normal id (or a topic name in SUBSCRIBE), 1 = predefined id, 2 = short name. */
export const TopicIdType = { Normal: 0, Predefined: 1, Short: 2 } as const
export type TopicIdType = (typeof TopicIdType)[keyof typeof TopicIdType]

/** -1 is "QoS -1": a PUBLISH from a client that is not connected (§6.8). */
export type SnQos = -1 | 0 | 1 | 2

/** A will as WILLTOPIC / WILLTOPICUPD carry it; `undefined` is the empty message, i.e. no will. */
export interface WillTopic {
  qos: 0 | 1 | 2
  retain: boolean
  topic: string
}

export interface Advertise { type: 'advertise'; gatewayId: number; duration: number }
export interface SearchGw { type: 'searchgw'; radius: number }
/** `gatewayAddress` is only present when a client answers SEARCHGW on a gateway's behalf. */
export interface GwInfo { type: 'gwinfo'; gatewayId: number; gatewayAddress?: Buffer }
export interface Connect { type: 'connect'; will: boolean; cleanSession: boolean; duration: number; clientId: string }
export interface Connack { type: 'connack'; returnCode: ReturnCode }
export interface WillTopicReq { type: 'willtopicreq' }
export interface WillTopicMsg { type: 'willtopic'; will: WillTopic | undefined }
export interface WillMsgReq { type: 'willmsgreq' }
export interface WillMsg { type: 'willmsg'; payload: Buffer }
export interface Register { type: 'register'; topicId: number; msgId: number; topicName: string }
export interface Regack { type: 'regack'; topicId: number; msgId: number; returnCode: ReturnCode }
/** With `topicIdType` Short, `topicId` holds the two characters of the name (see `shortTopicName`). */
export interface Publish {
  type: 'publish'
  dup: boolean
  qos: SnQos
  retain: boolean
  topicIdType: TopicIdType
  topicId: number
  msgId: number
  payload: Buffer
}
export interface Puback { type: 'puback'; topicId: number; msgId: number; returnCode: ReturnCode }
export interface Pubcomp { type: 'pubcomp'; msgId: number }
export interface Pubrec { type: 'pubrec'; msgId: number }
export interface Pubrel { type: 'pubrel'; msgId: number }
/** By topic name (Normal, wildcards allowed), predefined id, or short name: the one that applies is set. */
export type SubscribeTopic =
  | { topicIdType: typeof TopicIdType.Normal; topicName: string }
  | { topicIdType: typeof TopicIdType.Predefined; topicId: number }
  | { topicIdType: typeof TopicIdType.Short; topicName: string }
export type Subscribe = { type: 'subscribe'; dup: boolean; qos: SnQos; msgId: number } & SubscribeTopic
export interface Suback { type: 'suback'; qos: 0 | 1 | 2; topicId: number; msgId: number; returnCode: ReturnCode }
export type Unsubscribe = { type: 'unsubscribe'; msgId: number } & SubscribeTopic
export interface Unsuback { type: 'unsuback'; msgId: number }
export interface Pingreq { type: 'pingreq'; clientId?: string }
export interface Pingresp { type: 'pingresp' }
/** With a `duration` (seconds), the client goes to sleep (§6.14). */
export interface Disconnect { type: 'disconnect'; duration?: number }
export interface WillTopicUpd { type: 'willtopicupd'; will: WillTopic | undefined }
export interface WillTopicResp { type: 'willtopicresp'; returnCode: ReturnCode }
export interface WillMsgUpd { type: 'willmsgupd'; payload: Buffer }
export interface WillMsgResp { type: 'willmsgresp'; returnCode: ReturnCode }

export type SnMessage =
  | Advertise
  | SearchGw
  | GwInfo
  | Connect
  | Connack
  | WillTopicReq
  | WillTopicMsg
  | WillMsgReq
  | WillMsg
  | Register
  | Regack
  | Publish
  | Puback
  | Pubcomp
  | Pubrec
  | Pubrel
  | Subscribe
  | Suback
  | Unsubscribe
  | Unsuback
  | Pingreq
  | Pingresp
  | Disconnect
  | WillTopicUpd
  | WillTopicResp
  | WillMsgUpd
  | WillMsgResp

/** The forwarder encapsulation (§5.5): who relayed the datagram, so replies go back through it. */
export interface Forwarder {
  /** Ctrl octet: bits 0-1 are the broadcast radius. */
  ctrl: number
  wirelessNodeId: Buffer
}

export interface Datagram {
  message: SnMessage
  forwarder?: Forwarder
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Strict UTF-8: an invalid sequence is a malformed field, not a replacement character. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}

/** The short topic name a PUBLISH carries in its TopicId field: its two octets as UTF-8 (undefined if invalid). */
export function shortTopicName(topicId: number): string | undefined {
  return decodeUtf8(Uint8Array.of(topicId >> 8, topicId & 0xff))
}

/** The TopicId value of a short topic name (two octets of UTF-8); undefined for any other name. */
export function shortTopicId(name: string): number | undefined {
  const bytes = Buffer.from(name, 'utf8')
  if (bytes.length !== 2) return undefined
  return ((bytes[0] as number) << 8) | (bytes[1] as number)
}

import type { IPublishPacket } from 'mqtt-packet'
import { giveSplitPayload, type SplitPayload } from '../connection/split-payload.js'
import type { Message, MessageProperties, QoS } from '../types.js'

type PublishLikeProperties = IPublishPacket['properties']

const CARRIED = ['payloadFormatIndicator', 'messageExpiryInterval', 'contentType', 'responseTopic', 'correlationData', 'userProperties'] as const

/** Keeps only the properties that travel with a message end to end (MQTT 5 §3.3.2.3). */
export function messageProperties(source: PublishLikeProperties): MessageProperties | undefined {
  if (!source) return undefined
  let out: Record<string, unknown> | undefined
  for (const key of CARRIED) {
    const value = source[key]
    if (value !== undefined) (out ??= {})[key] = value
  }
  return out as MessageProperties | undefined
}

export function toBuffer(payload: string | Buffer | Uint8Array | undefined): Buffer {
  if (payload === undefined) return Buffer.alloc(0)
  if (Buffer.isBuffer(payload)) return payload
  if (typeof payload === 'string') return Buffer.from(payload)
  return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
}

/**
 * Builds the routed message; the expiry deadline starts now, when the broker accepts it. A large payload still in
 * the reads it arrived in stays so (see split-payload.ts).
 */
export function createMessage(
  topic: string,
  payload: Buffer | SplitPayload,
  qos: QoS,
  retain: boolean,
  properties: MessageProperties | undefined,
  origin: string | undefined,
): Message {
  const message: Message = Buffer.isBuffer(payload) ? { topic, payload, qos, retain } : giveSplitPayload({ topic, qos, retain }, payload)
  if (properties) {
    message.properties = properties
    if (properties.messageExpiryInterval !== undefined) {
      message.expiresAt = Date.now() + properties.messageExpiryInterval * 1000
    }
  }
  if (origin !== undefined) message.origin = origin
  return message
}

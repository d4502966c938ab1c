import type { IPublishPacket } from 'mqtt-packet'
import type { OutboundEntry } from '../persistence/persistence.js'
import type { Message } from '../types.js'
import { encodePacket } from './packet-encoder.js'

/**
 * Server-to-client topic aliases (MQTT 5 §3.3.2.3.4): the first send of a topic carries topic and alias,
 * later ones an empty topic and the alias. Aliases are handed out until the client's maximum, never reused.
 */
export class OutboundAliases {
  private readonly byTopic = new Map<string, number>()
  constructor(private readonly maximum: number) {}

  /** Undoes a new alias whose packet was never sent (e.g. too large for the client). */
  forget(topic: string, alias: number): void {
    if (this.byTopic.get(topic) === alias && alias === this.byTopic.size) this.byTopic.delete(topic)
  }

  /** [alias, isNew]; alias 0 when no alias is available. */
  aliasFor(topic: string): [number, boolean] {
    const existing = this.byTopic.get(topic)
    if (existing !== undefined) return [existing, false]
    if (this.byTopic.size >= this.maximum) return [0, false]
    const alias = this.byTopic.size + 1
    this.byTopic.set(topic, alias)
    return [alias, true]
  }
}

/** Encodes a v5 PUBLISH with the message's properties, the remaining expiry and subscription identifiers. */
export function encodePublishV5(
  message: Message,
  entry: OutboundEntry,
  dup: boolean,
  retain: boolean,
  remainingExpiry: number | undefined,
  link: { outboundAliases: OutboundAliases | null; lastNewAlias: number },
): Buffer {
  const source = message.properties
  const properties: NonNullable<IPublishPacket['properties']> = {}
  if (source) {
    if (source.payloadFormatIndicator !== undefined) properties.payloadFormatIndicator = source.payloadFormatIndicator
    if (source.contentType !== undefined) properties.contentType = source.contentType
    if (source.responseTopic !== undefined) properties.responseTopic = source.responseTopic
    if (source.correlationData !== undefined) properties.correlationData = source.correlationData
    if (source.userProperties !== undefined) properties.userProperties = source.userProperties
  }
  // [MQTT-3.3.2-6] the receiver gets the remaining lifetime, not the original interval
  if (remainingExpiry !== undefined) properties.messageExpiryInterval = remainingExpiry
  const ids = entry.subscriptionIdentifiers
  if (ids && ids.length > 0) properties.subscriptionIdentifier = ids.length === 1 ? (ids[0] as number) : ids
  let topic = message.topic
  link.lastNewAlias = 0
  // A resend (dup) keeps the full topic: the alias mapping may not have survived a reconnect.
  if (link.outboundAliases && !dup) {
    const [alias, isNew] = link.outboundAliases.aliasFor(topic)
    if (alias !== 0) {
      properties.topicAlias = alias
      if (isNew) link.lastNewAlias = alias
      else topic = ''
    }
  }
  const packet: IPublishPacket = {
    cmd: 'publish',
    topic,
    payload: message.payload,
    qos: entry.qos,
    retain,
    dup,
    properties,
  }
  if (entry.qos > 0) packet.messageId = entry.packetId ?? 0
  return encodePacket(packet, 5)
}

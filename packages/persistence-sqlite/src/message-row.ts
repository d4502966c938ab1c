import type { Message, MessageProperties, QoS } from '@wren/core'

/** A message as stored in SQLite: payload and correlation data as BLOBs, the other properties as JSON. */
export interface MessageRow {
  message_id: string | null
  topic: string
  payload: Buffer
  qos: number
  retain: number
  origin: string | null
  expires_at: number | null
  properties: string | null
  correlation_data: Buffer | null
}

export const MESSAGE_FIELDS = 'message_id, topic, payload, qos, retain, origin, expires_at, properties, correlation_data'
export const MESSAGE_PARAMS = '@message_id, @topic, @payload, @qos, @retain, @origin, @expires_at, @properties, @correlation_data'

export function messageToRow(message: Message): MessageRow {
  let properties: string | null = null
  let correlationData: Buffer | null = null
  if (message.properties) {
    const { correlationData: data, ...rest } = message.properties
    properties = JSON.stringify(rest)
    correlationData = data ?? null
  }
  return {
    message_id: message.id ?? null,
    topic: message.topic,
    payload: message.payload,
    qos: message.qos,
    retain: message.retain ? 1 : 0,
    origin: message.origin ?? null,
    expires_at: message.expiresAt ?? null,
    properties,
    correlation_data: correlationData,
  }
}

export function rowToMessage(row: MessageRow): Message {
  const message: Message = { topic: row.topic, payload: row.payload, qos: row.qos as QoS, retain: row.retain === 1 }
  if (row.message_id !== null) message.id = row.message_id
  if (row.origin !== null) message.origin = row.origin
  if (row.expires_at !== null) message.expiresAt = row.expires_at
  if (row.properties !== null) {
    const properties = JSON.parse(row.properties) as MessageProperties
    if (row.correlation_data !== null) properties.correlationData = row.correlation_data
    message.properties = properties
  }
  return message
}

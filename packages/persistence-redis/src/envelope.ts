import { decodeEnvelope, encodeEnvelope, messageFromHeader, messageHeader, type Message, type MessageHeader, type WillRecord } from '@wren/core'
import type { PackedFields } from './packed-fields.js'

/**
 * A stored message is one binary value: a 4-byte length, a JSON header (every field but the payload), then the
 * payload bytes as they are. Payloads stay raw, not base64: a third less memory in Redis, no encoding work,
 * and one GET/HGET returns the whole message. Only correlation data, small and rare, rides in the header as base64.
 */

interface WillHeader {
  clientId: string
  brokerId?: string
  delayInterval: number
  message: MessageHeader
}

export function encodeMessage(message: Message): Buffer {
  return encodeEnvelope(messageHeader(message), message.payload)
}

/** `encodeMessage`'s value, packed as a field of a batch. */
export function packMessage(message: Message, into: PackedFields): void {
  into.envelope(JSON.stringify(messageHeader(message)), message.payload)
}

/** The message stored at `value[start, end)` (the whole value by default). */
export function decodeMessage(value: Buffer, start = 0, end = value.length): Message {
  const { header, payload } = decodeEnvelope<MessageHeader>(value, start, end)
  return messageFromHeader(header, payload)
}

export function encodeWill(record: WillRecord): Buffer {
  const header: WillHeader = { clientId: record.clientId, delayInterval: record.delayInterval, message: messageHeader(record.message) }
  if (record.brokerId !== undefined) header.brokerId = record.brokerId
  return encodeEnvelope(header, record.message.payload)
}

export function decodeWill(value: Buffer): WillRecord {
  const { header, payload } = decodeEnvelope<WillHeader>(value)
  const record: WillRecord = { clientId: header.clientId, delayInterval: header.delayInterval, message: messageFromHeader(header.message, payload) }
  if (header.brokerId !== undefined) record.brokerId = header.brokerId
  return record
}

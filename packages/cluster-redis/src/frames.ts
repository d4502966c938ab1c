import type { Message, MessageProperties, QoS, RemoteDelivery } from '@wren/core'

/**
 * What travels on a node's own channel, as one binary frame: a kind byte, a 4-byte header length, a JSON
 * header, then (for forwards) the payload bytes exactly as published. Payloads are never re-encoded; only
 * correlation data, small and rare, rides in the header as base64.
 */
export const FrameKind = { Forward: 1, Release: 2, Released: 3 } as const
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind]

interface MessageHeader {
  id?: string
  topic: string
  qos: QoS
  retain: boolean
  origin?: string
  expiresAt?: number
  properties?: Omit<MessageProperties, 'correlationData'> & { correlationData?: string }
}

export interface ForwardHeader {
  m: MessageHeader
  d: RemoteDelivery[]
}

/** Node `n` took client `c` over and waits for request `r` to be answered. */
export interface ReleaseHeader {
  c: string
  r: number
  n: string
}

export interface ReleasedHeader {
  r: number
}

export type Frame =
  | { kind: typeof FrameKind.Forward; message: Message; deliveries: RemoteDelivery[] }
  | { kind: typeof FrameKind.Release; header: ReleaseHeader }
  | { kind: typeof FrameKind.Released; header: ReleasedHeader }

const EMPTY = Buffer.alloc(0)

function frame(kind: FrameKind, header: object, payload: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header))
  const head = Buffer.allocUnsafe(5)
  head.writeUInt8(kind, 0)
  head.writeUInt32BE(json.length, 1)
  return Buffer.concat([head, json, payload])
}

export function forwardFrame(message: Message, deliveries: RemoteDelivery[]): Buffer {
  const { payload, properties, ...rest } = message
  const header: MessageHeader = rest
  if (properties) {
    const { correlationData, ...others } = properties
    header.properties = correlationData ? { ...others, correlationData: correlationData.toString('base64') } : others
  }
  return frame(FrameKind.Forward, { m: header, d: deliveries } satisfies ForwardHeader, payload)
}

export function releaseFrame(header: ReleaseHeader): Buffer {
  return frame(FrameKind.Release, header, EMPTY)
}

export function releasedFrame(header: ReleasedHeader): Buffer {
  return frame(FrameKind.Released, header, EMPTY)
}

export function decodeFrame(value: Buffer): Frame {
  const kind = value.readUInt8(0) as FrameKind
  const length = value.readUInt32BE(1)
  const header: unknown = JSON.parse(value.toString('utf8', 5, 5 + length))
  switch (kind) {
    case FrameKind.Forward: {
      const { m, d } = header as ForwardHeader
      const { properties, ...rest } = m
      // A copy, so that a message kept in a queue does not pin the whole frame.
      const message: Message = { ...rest, payload: Buffer.from(value.subarray(5 + length)) }
      if (properties) {
        const { correlationData, ...others } = properties
        message.properties = correlationData === undefined ? others : { ...others, correlationData: Buffer.from(correlationData, 'base64') }
      }
      return { kind, message, deliveries: d }
    }
    case FrameKind.Release:
      return { kind, header: header as ReleaseHeader }
    case FrameKind.Released:
      return { kind, header: header as ReleasedHeader }
    default:
      throw new Error(`unknown cluster frame kind ${String(kind)}`)
  }
}

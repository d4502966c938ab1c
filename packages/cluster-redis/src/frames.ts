import { decodeEnvelope, encodeEnvelope, messageFromHeader, messageHeader, type Message, type MessageHeader, type RemoteDelivery } from '@wren/core'

/**
 * What travels on a node's own channel, as one binary frame: a kind byte, a 4-byte header length, a JSON
 * header, then (for forwards) the payload bytes exactly as published. Payloads are never re-encoded; only
 * correlation data, small and rare, rides in the header as base64.
 */
export const FrameKind = { Forward: 1, Release: 2, Released: 3, Batch: 4 } as const
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind]

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
  | { kind: typeof FrameKind.Batch; frames: Frame[] }

const EMPTY = Buffer.alloc(0)

function frame(kind: FrameKind, header: object, payload: Buffer): Buffer {
  return encodeEnvelope(header, payload, Buffer.of(kind))
}

export function forwardFrame(message: Message, deliveries: RemoteDelivery[]): Buffer {
  return frame(FrameKind.Forward, { m: messageHeader(message), d: deliveries } satisfies ForwardHeader, message.payload)
}

/** Several frames for one node in one PUBLISH: a kind byte, then each frame as a 4-byte length and its bytes. */
export function batchFrame(frames: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.of(FrameKind.Batch)]
  for (const frame of frames) {
    const length = Buffer.allocUnsafe(4)
    length.writeUInt32BE(frame.length)
    parts.push(length, frame)
  }
  return Buffer.concat(parts)
}

export function releaseFrame(header: ReleaseHeader): Buffer {
  return frame(FrameKind.Release, header, EMPTY)
}

export function releasedFrame(header: ReleasedHeader): Buffer {
  return frame(FrameKind.Released, header, EMPTY)
}

export function decodeFrame(value: Buffer): Frame {
  const kind = value.readUInt8(0) as FrameKind
  if (kind === FrameKind.Batch) {
    const frames: Frame[] = []
    for (let pos = 1; pos < value.length; ) {
      const length = value.readUInt32BE(pos)
      frames.push(decodeFrame(value.subarray(pos + 4, pos + 4 + length)))
      pos += 4 + length
    }
    return { kind, frames }
  }
  const { header, payload } = decodeEnvelope<unknown>(value, 1)
  switch (kind) {
    case FrameKind.Forward: {
      const { m, d } = header as ForwardHeader
      return { kind, message: messageFromHeader(m, payload), deliveries: d }
    }
    case FrameKind.Release:
      return { kind, header: header as ReleaseHeader }
    case FrameKind.Released:
      return { kind, header: header as ReleasedHeader }
    default:
      throw new Error(`unknown cluster frame kind ${String(kind)}`)
  }
}

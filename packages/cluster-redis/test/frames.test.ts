import { describe, expect, it } from 'vitest'
import { FrameKind, batchFrame, decodeFrame, forwardFrame, releaseFrame } from '../src/frames.js'

describe('cluster frames', () => {
  it('carries several forwards (and other frames) in one batch, in order and byte for byte', () => {
    const messages = [0, 1, 2].map((i) => ({ id: `m${i}`, topic: `t/${i}`, payload: Buffer.from([i, 255, 0]), qos: 1 as const, retain: false }))
    const frames = [...messages.map((m) => forwardFrame(m, [{ clientId: `c${m.id}`, qos: 1, retain: false }])), releaseFrame({ c: 'x', r: 7, n: 'node-a' })]
    const decoded = decodeFrame(batchFrame(frames))
    if (decoded.kind !== FrameKind.Batch) throw new Error('not a batch')
    expect(decoded.frames.map((f) => f.kind)).toEqual([FrameKind.Forward, FrameKind.Forward, FrameKind.Forward, FrameKind.Release])
    decoded.frames.slice(0, 3).forEach((frame, i) => {
      if (frame.kind !== FrameKind.Forward) throw new Error('not a forward')
      expect(frame.message).toEqual(messages[i])
      expect(frame.deliveries).toEqual([{ clientId: `cm${i}`, qos: 1, retain: false }])
    })
  })
})

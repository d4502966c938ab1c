import { describe, expect, it } from 'vitest'
import type { Message, RemoteDelivery } from '@wren/core'
import { FrameKind, decodeFrame, forwardsFrame, holdFrame, releaseFrame } from '../src/frames.js'

describe('cluster frames', () => {
  it('carries a tick of forwards in one frame, in order, every field and payload byte for byte', () => {
    const plain: Message = { topic: 't/0', payload: Buffer.from([0, 255, 0]), qos: 0, retain: false }
    const full: Message = {
      id: 'm1',
      topic: 'room/ü/1',
      payload: Buffer.alloc(70_000, 7),
      qos: 2,
      retain: true,
      origin: 'publisher-1',
      expiresAt: 1_900_000_000_123,
      properties: { contentType: 'text/plain', correlationData: Buffer.from([1, 2, 3]), userProperties: { a: 'b' }, payloadFormatIndicator: true },
    }
    const deliveries: RemoteDelivery[][] = [
      [{ clientId: 'c0', qos: 0, retain: false }],
      [
        { clientId: 'c1', qos: 2, retain: true, subscriptionIdentifiers: [1, 268_435_455] },
        { clientId: 'ç2', qos: 1, retain: false },
      ],
    ]
    const decoded = decodeFrame(forwardsFrame('node-a', 7, 2 ** 40, [{ message: plain, deliveries: deliveries[0]! }, { message: full, deliveries: deliveries[1]! }]))
    if (decoded.kind !== FrameKind.Forwards) throw new Error('not forwards')
    expect([decoded.from, decoded.epoch, decoded.seq]).toEqual(['node-a', 7, 2 ** 40])
    expect(decoded.forwards.map((f) => f.message)).toEqual([plain, full])
    expect(decoded.forwards.map((f) => f.deliveries)).toEqual(deliveries)
    expect(decoded.forwards[1]!.message.payload.equals(full.payload)).toBe(true)
  })

  it('copies a message already encoded for one node into the next node\'s frame, with that node\'s deliveries', () => {
    const shared: Message = { id: 'x', topic: 'fan/out', payload: Buffer.from('both'), qos: 1, retain: false, properties: { contentType: 'a/b' } }
    const only: Message = { topic: 'only/b', payload: Buffer.from('b'), qos: 0, retain: false }
    const written = new Map<Message, Buffer>()
    const toB = decodeFrame(forwardsFrame('a', 1, 1, [{ message: shared, deliveries: [{ clientId: 'on-b', qos: 1, retain: false }] }, { message: only, deliveries: [{ clientId: 'on-b', qos: 0, retain: false }] }], written))
    const toC = decodeFrame(forwardsFrame('a', 1, 1, [{ message: shared, deliveries: [{ clientId: 'on-c', qos: 0, retain: true }] }], written))
    if (toB.kind !== FrameKind.Forwards || toC.kind !== FrameKind.Forwards) throw new Error('not forwards')
    expect(written.size).toBe(2)
    expect(toB.forwards.map((f) => f.message)).toEqual([shared, only])
    expect(toC.forwards).toEqual([{ message: shared, deliveries: [{ clientId: 'on-c', qos: 0, retain: true }] }])
  })

  it('refuses a frame that ends inside a payload', () => {
    const frame = forwardsFrame('a', 1, 1, [{ message: { topic: 't', payload: Buffer.alloc(10, 1), qos: 0, retain: false }, deliveries: [] }])
    expect(() => decodeFrame(frame.subarray(0, frame.length - 5))).toThrow(RangeError)
  })

  it('keeps the control frames: release and hold', () => {
    expect(decodeFrame(releaseFrame({ c: 'x', r: 7, n: 'node-a' }))).toEqual({ kind: FrameKind.Release, header: { c: 'x', r: 7, n: 'node-a' } })
    expect(decodeFrame(holdFrame({ n: 'node-b', c: 'slow', h: 1 }))).toEqual({ kind: FrameKind.Hold, header: { n: 'node-b', c: 'slow', h: 1 } })
  })
})

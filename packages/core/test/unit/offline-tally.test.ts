import { describe, expect, it } from 'vitest'
import type { OutboundEntry } from '../../src/persistence/persistence.js'
import { OfflineTally } from '../../src/session/offline-tally.js'

function entry(payload: string, qos: 0 | 1 = 1): OutboundEntry {
  return { message: { topic: 't', payload: Buffer.from(payload), qos: 1, retain: false }, qos, state: 'queued' }
}

describe('OfflineTally', () => {
  it('counts a session going offline with its QoS 1/2 entries, what is queued and refused, and lets it go', () => {
    const tally = new OfflineTally()
    tally.wentOffline('a', [entry('12345'), entry('x', 0)])
    tally.queued('a', 3)
    tally.queued('elsewhere', 100)
    expect([tally.sessions, tally.messages, tally.bytes]).toEqual([1, 2, 8])
    tally.refused('a', 3, false)
    expect([tally.messages, tally.bytes]).toEqual([1, 5])
    tally.queued('a', 7)
    // drop-old: the oldest went, its size unknown here: the mean (6) stands for it.
    tally.refused('a', 9, true)
    expect([tally.messages, tally.bytes]).toEqual([1, 6])
    tally.remove('a')
    expect([tally.sessions, tally.messages, tally.bytes]).toEqual([0, 0, 0])
  })

  it('recounts a held session from the store, keeping what was queued after the store was asked', async () => {
    const tally = new OfflineTally()
    tally.hold('a')
    tally.queued('a', 10)
    let answer: (entries: OutboundEntry[]) => void = () => undefined
    const counted = tally.recount('a', () => new Promise((resolve) => (answer = resolve)))
    tally.queued('a', 4)
    answer([entry('0123456789')])
    await counted
    expect([tally.messages, tally.bytes]).toEqual([2, 14])
    // Resumed while the store was being read: the late answer is not counted.
    tally.hold('b')
    const late = tally.recount('b', () => Promise.resolve([entry('zz')]))
    tally.remove('b')
    await late
    expect([tally.sessions, tally.messages, tally.bytes]).toEqual([1, 2, 14])
  })

  it('sweeps a bounded number of sessions per call, round-robin', () => {
    const tally = new OfflineTally()
    for (const id of ['a', 'b', 'c', 'd', 'e']) tally.wentOffline(id, [entry('x')])
    const online = new Set(['b', 'e'])
    tally.sweep((id) => online.has(id), 2)
    expect(tally.has('b')).toBe(false)
    expect(tally.has('e')).toBe(true)
    tally.sweep((id) => online.has(id), 3)
    expect([tally.has('e'), tally.sessions, tally.messages]).toEqual([false, 3, 3])
  })
})

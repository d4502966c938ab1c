import type { IPublishPacket } from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { LinkSession } from '../src/link-session.js'

const publish = (topic: string, qos: 1 | 2 = 1): IPublishPacket => ({ cmd: 'publish', topic, payload: Buffer.from(topic), qos, retain: false, dup: false })

function session() {
  const acked: Array<[string, number]> = []
  const s = new LinkSession<string>((token, code) => acked.push([token, code]))
  return { s, acked }
}

describe('the client side of a session (LinkSession)', () => {
  it('resends unacknowledged messages with DUP and their ids, PUBREL for received QoS 2 ones, in order', () => {
    const { s } = session()
    const a = s.add(publish('a'), 'a')
    const b = s.add(publish('b', 2), 'b')
    const c = s.add(publish('c', 2), 'c')
    expect(s.received(b.messageId as number)).toBe(true)
    const resend = s.resume(true)
    expect(resend).toEqual([
      { cmd: 'publish', packet: { ...a, dup: true } },
      { cmd: 'pubrel', messageId: b.messageId },
      { cmd: 'publish', packet: { ...c, dup: true } },
    ])
  })

  it('without a session on the peer, a released QoS 2 message is done and the others are sent again', () => {
    const { s, acked } = session()
    s.add(publish('a'), 'a')
    const b = s.add(publish('b', 2), 'b')
    s.received(b.messageId as number)
    expect(s.resume(false).map((r) => r.cmd)).toEqual(['publish'])
    expect(acked).toEqual([['b', 0]])
  })

  it('resends within a smaller Receive Maximum and lets the held ones go as acknowledgements come', () => {
    const { s, acked } = session()
    const ids = ['a', 'b', 'c', 'd'].map((t) => s.add(publish(t), t).messageId as number)
    s.receiveMaximum = 2
    expect(s.resume(true).map((r) => (r.cmd === 'publish' ? r.packet.topic : r.cmd))).toEqual(['a', 'b'])
    expect(s.full).toBe(true)
    const next = s.complete(ids[0] as number, 0)
    expect([next?.topic, next?.dup, next?.messageId]).toEqual(['c', true, ids[2]])
    expect(s.complete(ids[1] as number, 0)?.topic).toBe('d')
    expect(s.complete(ids[2] as number, 0)).toBeUndefined()
    expect(acked.map(([token]) => token)).toEqual(['a', 'b', 'c'])
  })

  it('never hands out an id still in use, wrapping after 65535', () => {
    const { s } = session()
    const first = s.add(publish('first'), 'first').messageId
    for (let i = 0; i < 65534; i++) s.complete(s.add(publish('x'), 'x').messageId as number, 0)
    // the counter wrapped: 'first' still holds its id, so the next one skips it
    expect(s.add(publish('next'), 'next').messageId).not.toBe(first)
  })
})

import { once } from 'node:events'
import { generate, type IPublishPacket } from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { duplexPair } from '@wren/core'
import { LinkSession } from '../src/link-session.js'
import { MqttLink } from '../src/mqtt-link.js'

describe('MqttLink', () => {
  it('passes nothing on once it has disconnected, though the peer may still write (the message stays in its session)', async () => {
    const [ours, theirs] = duplexPair()
    const received: IPublishPacket[] = []
    const link = new MqttLink(ours, 5, new LinkSession<null>(() => undefined), {
      message: (packet) => received.push(packet),
      drain: () => undefined,
      closed: () => undefined,
    })
    const publish = (topic: string) => generate({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 1, messageId: 1, retain: false, dup: false }, { protocolVersion: 5 })
    theirs.write(publish('before'))
    await once(ours, 'data')
    link.disconnect()
    theirs.write(publish('after'))
    // The peer reads our DISCONNECT, then its own write's end: by then 'after' has reached our side
    theirs.end()
    await once(ours, 'end')
    expect(received.map((packet) => packet.topic)).toEqual(['before'])
  })
})

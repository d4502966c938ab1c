import { generate, parser as createParser, type IPublishPacket, type Packet } from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { encodePublishV4, encodePublishV4For } from '../../src/connection/packet-encoder.js'
import { PacketReader } from '../../src/connection/packet-reader.js'
import { joined, payloadLength, splitPayloadOf, splitParts } from '../../src/connection/split-payload.js'
import { createMessage } from '../../src/handlers/message-from-packet.js'

const reference = (topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean, dup: boolean, messageId: number) =>
  generate({ cmd: 'publish', topic, payload, qos, retain, dup, ...(qos > 0 ? { messageId } : {}) }, { protocolVersion: 4 })

describe('the v3/v4 PUBLISH encoder', () => {
  const cases: Array<[string, number]> = [
    ['a', 0],
    ['sensors/temp/1', 64],
    ['ünïcødé/τοπικ', 200],
    ['long/'.repeat(40), 20_000],
  ]
  for (const [topic, size] of cases) {
    for (const qos of [0, 1, 2] as const) {
      for (const retain of [false, true]) {
        it(`matches mqtt-packet for '${topic.slice(0, 12)}' ${size} B QoS ${qos} retain ${retain}`, () => {
          const payload = Buffer.alloc(size, 7)
          expect(encodePublishV4(topic, payload, qos, retain, false, 42).equals(reference(topic, payload, qos, retain, false, 42))).toBe(true)
          expect(encodePublishV4(topic, payload, qos, retain, true, 42).equals(reference(topic, payload, qos, retain, true, 42))).toBe(true)
        })
      }
    }
  }

  it('reuses one encoding across subscribers, patching packet id and DUP into copies', () => {
    const message = { topic: 'fan/out', payload: Buffer.from('x') }
    const first = encodePublishV4For(message, 0, false, false, 0)
    expect(encodePublishV4For(message, 0, false, false, 0)).toBe(first)
    for (const id of [1, 2, 65535]) {
      expect(encodePublishV4For(message, 1, false, false, id).equals(reference('fan/out', message.payload, 1, false, false, id))).toBe(true)
    }
    expect(encodePublishV4For(message, 1, false, true, 9).equals(reference('fan/out', message.payload, 1, false, true, 9))).toBe(true)
    expect(encodePublishV4For(message, 1, false, false, 10).equals(reference('fan/out', message.payload, 1, false, false, 10))).toBe(true)
  })
})

describe('the packet reader', () => {
  const read = (chunks: Buffer[], protocolVersion = 4) => {
    const packets: Packet[] = []
    const errors: Error[] = []
    const reader = new PacketReader({ maxPacketSize: 1 << 20, maxConnectPacketSize: 1 << 20, maxUserProperties: 1024 }, { onPacket: (p) => packets.push(p), onParseError: (e) => errors.push(e) })
    reader.protocolVersion = protocolVersion
    for (const chunk of chunks) reader.push(chunk)
    return { packets, errors }
  }
  const bytes = Buffer.concat([
    reference('a/b', Buffer.from('one'), 1, false, false, 5),
    generate({ cmd: 'pingreq' }),
    reference('c', Buffer.alloc(300, 1), 0, true, false, 0),
  ])

  it('gives the same packets as mqtt-packet, whole or split at every byte', () => {
    const expected: Packet[] = []
    const p = createParser()
    p.on('packet', (packet: Packet) => expected.push(packet))
    p.parse(bytes)
    const strip = (list: Packet[]) => list.map((x) => (x.cmd === 'publish' ? { ...(x as IPublishPacket), payload: Buffer.from((x as IPublishPacket).payload) } : { cmd: x.cmd }))
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { packets, errors } = read([bytes.subarray(0, cut), bytes.subarray(cut)])
      expect(errors).toEqual([])
      expect(strip(packets)).toEqual(strip(expected))
    }
    const oneByteAtATime = read([...bytes].map((b) => Buffer.from([b])))
    expect(strip(oneByteAtATime.packets)).toEqual(strip(expected))
  })

  it('reads acknowledgements and MQTT 5 PUBLISHes, with and without properties, as mqtt-packet does, whole or split at every byte', () => {
    const ack = (cmd: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', extra: object = {}) => ({ cmd, messageId: 7, ...extra }) as Packet
    const sets: Array<[number, Packet[]]> = [
      [4, [ack('puback'), ack('pubrec'), ack('pubrel'), ack('pubcomp')]],
      [
        5,
        [
          ack('puback'),
          ack('pubrec', { reasonCode: 0x10 }),
          ack('pubrel', { reasonCode: 0x92 }),
          ack('pubcomp', { reasonCode: 0, properties: { reasonString: 'ok' } }),
          { cmd: 'publish', topic: 'a/b', payload: Buffer.from('one'), qos: 1, messageId: 5, retain: false, dup: false },
          { cmd: 'publish', topic: 'c', payload: Buffer.from('two'), qos: 0, retain: true, dup: false, properties: { contentType: 'x' } },
          { cmd: 'publish', topic: 'd', payload: Buffer.alloc(0), qos: 2, messageId: 9, retain: false, dup: true },
        ],
      ],
    ]
    for (const [protocolVersion, list] of sets) {
      const stream = Buffer.concat(list.map((packet) => generate(packet, { protocolVersion })))
      const expected: Packet[] = []
      const p = createParser({ protocolVersion })
      p.on('packet', (packet: Packet) => expected.push(packet))
      p.parse(stream)
      const plain = (packets: Packet[]) => packets.map((x) => ({ ...x, ...(x.cmd === 'publish' ? { payload: Buffer.from((x as IPublishPacket).payload) } : {}) }))
      expect(expected).toHaveLength(list.length)
      for (let cut = 0; cut <= stream.length; cut++) {
        const { packets, errors } = read([stream.subarray(0, cut), stream.subarray(cut)], protocolVersion)
        expect(errors).toEqual([])
        expect(plain(packets)).toEqual(plain(expected))
      }
    }
  })

  it('refuses acknowledgements with reserved flags set or the wrong length, as mqtt-packet and the wire rules do', () => {
    expect(read([Buffer.from([0x41, 0x02, 0x00, 0x01])]).errors[0]?.message).toMatch(/Invalid header flag bits/)
    expect(read([Buffer.from([0x60, 0x02, 0x00, 0x01])]).errors[0]?.message).toMatch(/Invalid header flag bits/)
    expect(read([Buffer.from([0x40, 0x03, 0x00, 0x01, 0x00])]).errors[0]?.message).toMatch(/remaining length of 3/)
    expect(read([Buffer.from([0x40, 0x03, 0x00, 0x01, 0x01])], 5).errors[0]?.message).toMatch(/Invalid puback reason code/)
  })

  it('reads a packet spread over several chunks, with packets before and after it in the same chunks', () => {
    const big = Buffer.alloc(70_000)
    for (let i = 0; i < big.length; i++) big[i] = i % 251
    const stream = Buffer.concat([bytes, reference('big', big, 1, false, false, 9), bytes])
    for (const cuts of [[10, 40_000, 70_050], [bytes.length + 3, bytes.length + 65_536], [1, 2, 3, 65_536, 70_001]]) {
      const bounds = [0, ...cuts, stream.length]
      const { packets, errors } = read(bounds.slice(1).map((end, i) => stream.subarray(bounds[i], end)))
      expect(errors).toEqual([])
      const publishes = packets.filter((p): p is IPublishPacket => p.cmd === 'publish')
      expect(publishes.map((p) => p.topic)).toEqual(['a/b', 'c', 'big', 'a/b', 'c'])
      expect(joined(splitPayloadOf(publishes[2]!) ?? (publishes[2]!.payload as Buffer)).equals(big)).toBe(true)
    }
  })

  it('leaves a large PUBLISH payload in the reads it came in, 3.1.1 and MQTT 5; the message made from it joins it once when read', () => {
    const big = Buffer.alloc(200_000)
    for (let i = 0; i < big.length; i++) big[i] = (i * 13) % 251
    const v5 = generate({ cmd: 'publish', topic: 'big', payload: big, qos: 1, messageId: 3, retain: false, dup: false, properties: { contentType: 'x', userProperties: { k: 'v' } } }, { protocolVersion: 5 })
    for (const [version, packet] of [[4, reference('big', big, 1, false, false, 3)], [5, v5]] as const) {
      const after = generate({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 0, retain: false, dup: false }, { protocolVersion: version })
      const stream = Buffer.concat([packet, generate({ cmd: 'pingreq' }), after])
      const chunks = []
      for (let at = 0; at < stream.length; at += 65_536) chunks.push(stream.subarray(at, at + 65_536))
      const packets: Packet[] = []
      const reader = new PacketReader({ maxPacketSize: 1 << 20, maxConnectPacketSize: 1 << 20, maxUserProperties: 1024 }, { onPacket: (p) => packets.push(p), onParseError: (e) => expect.unreachable(e.message) })
      reader.protocolVersion = version
      for (const chunk of chunks) reader.push(chunk)
      const publish = packets[0] as IPublishPacket
      expect(packets.map((p) => p.cmd)).toEqual(['publish', 'pingreq', 'publish'])
      expect([publish.topic, publish.messageId, publish.length]).toEqual(['big', 3, packet.length - 4])
      if (version === 5) expect(publish.properties).toEqual({ contentType: 'x', userProperties: { k: 'v' } })
      expect(splitParts(publish)?.length).toBe(chunks.length)
      expect(payloadLength(publish as { payload: Buffer })).toBe(big.length)
      const split = splitPayloadOf(publish)
      if (split === undefined) return expect.unreachable('the payload was joined')
      const message = createMessage(publish.topic, split, 1, false, undefined, 'c')
      const other = createMessage('other', split, 1, false, undefined, 'c')
      expect(Object.keys(message)).toEqual(['topic', 'qos', 'retain', 'payload', 'origin'])
      expect(payloadLength(message)).toBe(big.length)
      const payload = message.payload
      expect(payload.equals(big)).toBe(true)
      expect(splitParts(message)).toBeUndefined()
      expect(message.payload).toBe(payload)
      expect({ ...other }.payload.equals(big)).toBe(true)
    }
  })

  it('refuses a packet larger than the maximum from its fixed header alone', () => {
    const errors: Error[] = []
    const reader = new PacketReader({ maxPacketSize: 100, maxConnectPacketSize: 100, maxUserProperties: 1024 }, { onPacket: () => {}, onParseError: (e) => errors.push(e) })
    reader.push(Buffer.from([0x30, 0xff, 0x7f]))
    expect(errors[0]?.message).toMatch(/exceeds the maximum packet size/)
  })

  it('refuses a remaining length of five bytes', () => {
    const { errors } = read([Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])])
    expect(errors[0]?.message).toMatch(/remaining length/)
  })

  it('refuses an unknown protocol level with a coded error, not the parser\'s message', () => {
    const connect = generate({ cmd: 'connect', clientId: 'x', protocolVersion: 4, clean: true, keepalive: 0 })
    const unsupported = Buffer.from(connect)
    unsupported[8] = 2 // protocol level 2
    expect(read([unsupported]).errors[0]).toMatchObject({ code: 'WREN_UNSUPPORTED_PROTOCOL_VERSION' })
  })

  it('keeps parsing other streams after one stream sent a packet the parser rejects', () => {
    const connect = generate({ cmd: 'connect', clientId: 'x', protocolVersion: 4, clean: true, keepalive: 0 })
    const unknownName = Buffer.from(connect)
    unknownName[7] = 0x58 // protocol name MQTX
    expect(read([unknownName]).errors[0]?.message).toBe('Invalid protocolId')
    const { packets, errors } = read([connect, generate({ cmd: 'pingreq' })])
    expect(errors).toEqual([])
    expect(packets.map((p) => p.cmd)).toEqual(['connect', 'pingreq'])
  })
})

describe('the fixed-shape 3.1.1 packets', () => {
  it('CONNACK, SUBACK and UNSUBACK match mqtt-packet', async () => {
    const { encodePacket } = await import('../../src/connection/packet-encoder.js')
    const packets: Packet[] = [
      { cmd: 'connack', returnCode: 0, sessionPresent: true },
      { cmd: 'connack', returnCode: 5, sessionPresent: false },
      { cmd: 'suback', messageId: 258, granted: [0, 1, 2, 128] },
      { cmd: 'suback', messageId: 7, granted: Array.from({ length: 200 }, (_, i) => i % 3) },
      { cmd: 'unsuback', messageId: 65535, granted: [] },
    ]
    for (const packet of packets) expect(encodePacket(packet, 4)).toEqual(generate(packet, { protocolVersion: 4 }))
  })
})

describe('the PUBLISH header for large payloads', () => {
  it('is the packet without its payload', async () => {
    const { encodePublishV4Header } = await import('../../src/connection/packet-encoder.js')
    for (const size of [16 * 1024, 70_000, 3_000_000]) {
      const payload = Buffer.alloc(size, 3)
      const header = encodePublishV4Header('big/one', size, 1, false, true, 77)
      // Buffer.equals: a deep comparison of 3 MB byte by byte takes longer than the test timeout on a busy machine
      expect(Buffer.concat([header, payload]).equals(reference('big/one', payload, 1, false, true, 77))).toBe(true)
    }
  })
})

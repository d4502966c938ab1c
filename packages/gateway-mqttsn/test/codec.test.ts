import { describe, expect, it } from 'vitest'
import { MalformedDatagram, decodeDatagram, encodeDatagram, encodeMessage, shortTopicId, shortTopicName, type SnMessage } from '../src/index.js'
import { every } from './fixtures/messages.js'


describe('MQTT-SN codec', () => {
  it.each(every.map((message) => [`${message.type} ${JSON.stringify(message).slice(0, 60)}`, message] as const))('round-trips %s', (_name, message) => {
    const bytes = encodeMessage(message)
    expect(bytes[0]).toBe(bytes.length)
    expect(decodeDatagram(bytes)).toEqual({ message })
  })

  it('encodes the spec layouts octet by octet', () => {
    // CONNECT: Length, MsgType, Flags (Will, CleanSession), ProtocolId, Duration, ClientId
    expect([...encodeMessage({ type: 'connect', will: true, cleanSession: true, duration: 30, clientId: 'c' })]).toEqual([7, 0x04, 0x0c, 0x01, 0, 30, 0x63])
    // PUBLISH QoS 1, retain, predefined id 0x0102, msg id 5, payload "h"
    expect([...encodeMessage({ type: 'publish', dup: false, qos: 1, retain: true, topicIdType: 1, topicId: 0x0102, msgId: 5, payload: Buffer.from('h') })]).toEqual([
      8, 0x0c, 0x31, 0x01, 0x02, 0x00, 0x05, 0x68,
    ])
    // QoS -1 is 0b11 in bits 6-5
    expect(encodeMessage({ type: 'publish', dup: false, qos: -1, retain: false, topicIdType: 2, topicId: 0x6162, msgId: 0, payload: Buffer.alloc(0) })[2]).toBe(0x62)
  })

  it('uses the 3-octet length from 256 octets on, and decodes it', () => {
    const message: SnMessage = { type: 'publish', dup: false, qos: 0, retain: false, topicIdType: 0, topicId: 1, msgId: 0, payload: Buffer.alloc(600, 1) }
    const bytes = encodeMessage(message)
    expect(bytes.length).toBe(600 + 5 + 4)
    expect(bytes[0]).toBe(0x01)
    expect(bytes.readUInt16BE(1)).toBe(bytes.length)
    expect(decodeDatagram(bytes)).toEqual({ message })
    const edge = encodeMessage({ ...message, payload: Buffer.alloc(248) })
    expect(edge.length).toBe(255)
    expect(edge[0]).toBe(255)
    expect(encodeMessage({ ...message, payload: Buffer.alloc(249) })[0]).toBe(0x01)
  })

  it('wraps and unwraps the forwarder encapsulation (0xFE)', () => {
    const forwarder = { ctrl: 1, wirelessNodeId: Buffer.from([0xaa, 0xbb, 0xcc]) }
    const message: SnMessage = { type: 'pingreq', clientId: 'n1' }
    const bytes = encodeDatagram(message, forwarder)
    expect([...bytes.subarray(0, 6)]).toEqual([6, 0xfe, 1, 0xaa, 0xbb, 0xcc])
    expect(decodeDatagram(bytes)).toEqual({ message, forwarder })
  })

  it('maps short topic names to their two octets', () => {
    expect(shortTopicId('ab')).toBe(0x6162)
    expect(shortTopicName(0x6162)).toBe('ab')
    expect(shortTopicId('abc')).toBeUndefined()
    expect(shortTopicName(0xc328)).toBeUndefined()
  })

  const bad: Array<[string, number[]]> = [
    ['an empty datagram', []],
    ['one octet', [0x02]],
    ['a length longer than the datagram', [5, 0x16, 0x61]],
    ['a length shorter than the datagram', [2, 0x17, 0x00]],
    ['a zero length', [0, 0x17]],
    ['a 3-octet length cut short', [0x01, 0x00]],
    ['a 3-octet length below its own header', [0x01, 0x00, 0x03, 0x17]],
    ['an unknown MsgType', [2, 0x11]],
    ['a reserved MsgType 0x03', [2, 0x03]],
    ['CONNECT with a wrong ProtocolId', [7, 0x04, 0x04, 0x02, 0, 30, 0x63]],
    ['CONNECT without duration', [4, 0x04, 0x04, 0x01]],
    ['CONNACK with an unknown return code', [3, 0x05, 0x09]],
    ['PUBLISH with TopicIdType 0b11', [7, 0x0c, 0x03, 0, 1, 0, 1]],
    ['PUBLISH cut before MsgId', [5, 0x0c, 0x00, 0, 1]],
    ['PUBACK one octet short', [6, 0x0d, 0, 1, 0, 1]],
    ['PUBREL with an extra octet', [5, 0x10, 0, 1, 0]],
    ['SUBSCRIBE with an empty topic name', [5, 0x12, 0x00, 0, 1]],
    ['SUBSCRIBE by predefined id with 3 octets', [8, 0x12, 0x01, 0, 1, 0, 1, 2]],
    ['REGISTER with invalid UTF-8', [7, 0x0a, 0, 0, 0, 1, 0xff]],
    ['DISCONNECT with a 1-octet duration', [3, 0x18, 1]],
    ['WILLTOPIC with QoS -1', [4, 0x07, 0x60, 0x61]],
    ['a nested encapsulation', [3, 0xfe, 0, 3, 0xfe, 0]],
    ['an encapsulation with no message', [4, 0xfe, 0, 1]],
    ['an encapsulated message whose length disagrees', [3, 0xfe, 0, 3, 0x17]],
    ['SUBACK granting QoS -1', [8, 0x13, 0x60, 0, 0, 0, 1, 0]],
  ]
  it.each(bad)('rejects %s as MalformedDatagram', (_name, bytes) => {
    expect(() => decodeDatagram(Buffer.from(bytes))).toThrow(MalformedDatagram)
  })
})

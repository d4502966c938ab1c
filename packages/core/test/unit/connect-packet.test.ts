import { generate, parser as createParser, type IConnectPacket, type Packet } from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { decodeConnectV4 } from '../../src/connection/connect-packet.js'
import { PacketReader } from '../../src/connection/packet-reader.js'

/** mqtt-packet's CONNECT, without the `topic: null` and `payload: null` its packet class gives every packet. */
function parseWithMqttPacket(frame: Buffer): Packet {
  const parser = createParser()
  let packet: Packet | undefined
  parser.on('packet', (p: Packet) => {
    packet = p
  })
  parser.parse(frame)
  const { topic: _topic, payload: _payload, ...connect } = packet as Packet & { topic: null; payload: null }
  return connect as Packet
}

/** What the reader hands on for `frame`: the packet, or the error it fails with. */
function read(frame: Buffer): { packet?: Packet; error?: Error } {
  const outcome: { packet?: Packet; error?: Error } = {}
  const reader = new PacketReader(
    { maxPacketSize: 1 << 20, maxConnectPacketSize: 1 << 20, maxUserProperties: 64 },
    { onPacket: (packet) => (outcome.packet = packet), onParseError: (error) => (outcome.error = error) },
  )
  reader.push(frame)
  return outcome
}

const bodyStart = (frame: Buffer) => {
  let at = 1
  while (((frame[at] as number) & 0x80) !== 0) at++
  return at + 1
}

describe('the MQTT 3.1.1 / 3.1 CONNECT decoder', () => {
  const cases: Array<[string, Partial<IConnectPacket> & { bridgeMode?: boolean }]> = [
    ['clean, no credentials', { clientId: 'c1', clean: true, keepalive: 0 }],
    ['persistent with keepalive', { clientId: 'sensor-ünï', clean: false, keepalive: 60 }],
    ['empty client id', { clientId: '', clean: true, keepalive: 30 }],
    ['user name and password', { clientId: 'c2', username: 'alice', password: Buffer.from('s3cr€t') }],
    ['user name only', { clientId: 'c3', username: 'bob' }],
    ['will QoS 1 retained', { clientId: 'c4', will: { topic: 'last/will', payload: Buffer.from('gone'), qos: 1, retain: true } }],
    ['will QoS 2 with an empty payload and credentials', { clientId: 'c5', will: { topic: 'w', payload: Buffer.alloc(0), qos: 2, retain: false }, username: 'u', password: Buffer.alloc(0) }],
    ['MQTT 3.1', { clientId: 'old', protocolId: 'MQIsdp', protocolVersion: 3 }],
    ['bridge (level 0x84)', { clientId: 'bridge', bridgeMode: true }],
  ]
  for (const [name, fields] of cases) {
    it(`decodes ${name} as mqtt-packet does`, () => {
      const frame = generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, ...fields } as IConnectPacket)
      const decoded = decodeConnectV4(frame, bodyStart(frame))
      expect(decoded).not.toBeNull()
      expect({ ...decoded }).toEqual({ ...parseWithMqttPacket(frame) })
      expect(read(frame).packet).toEqual(decoded)
    })
  }

  it('copies the will payload and password out of the read they arrived in', () => {
    const frame = generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'c', username: 'u', password: Buffer.from('pw'), will: { topic: 't', payload: Buffer.from('bye'), qos: 0, retain: false } })
    const decoded = decodeConnectV4(frame, bodyStart(frame)) as IConnectPacket
    frame.fill(0)
    expect(decoded.will?.payload).toEqual(Buffer.from('bye'))
    expect(decoded.password).toEqual(Buffer.from('pw'))
  })

  it('leaves MQTT 5 to mqtt-packet', () => {
    const frame = generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'v5' })
    expect(decodeConnectV4(frame, bodyStart(frame))).toBeNull()
    expect(read(frame).packet).toMatchObject({ cmd: 'connect', protocolVersion: 5, clientId: 'v5' })
  })

  it('answers null for a frame that ends inside a field, and the reader refuses it', () => {
    const whole = generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'c', username: 'u', password: Buffer.from('pw'), will: { topic: 't', payload: Buffer.from('bye'), qos: 1, retain: false } })
    const body = whole.subarray(2)
    for (let cut = 0; cut < body.length; cut++) {
      const frame = Buffer.concat([Buffer.from([0x10, cut]), body.subarray(0, cut)])
      expect(decodeConnectV4(frame, 2)).toBeNull()
      expect(read(frame).error).toBeInstanceOf(Error)
    }
  })

  // Each is refused by the reader with mqtt-packet's wording, as before the decoder existed.
  const refused: Array<[string, (frame: Buffer) => void, RegExp]> = [
    ['the reserved connect flag set', (frame) => (frame[9] = (frame[9] as number) | 0x01), /Connect flag bit 0 must be 0/],
    ['will QoS without a will', (frame) => (frame[9] = (frame[9] as number) | 0x08), /Will QoS must be set to zero/],
    ['will retain without a will', (frame) => (frame[9] = (frame[9] as number) | 0x20), /Will Retain Flag must be set to zero/],
    ['header flags set', (frame) => (frame[0] = 0x12), /Invalid header flag bits/],
  ]
  for (const [name, corrupt, error] of refused) {
    it(`refuses ${name} as mqtt-packet does`, () => {
      const frame = generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, keepalive: 0, clientId: 'c' })
      corrupt(frame)
      expect(decodeConnectV4(frame, bodyStart(frame))).toBeNull()
      expect(read(frame).error?.message).toMatch(error)
    })
  }
})

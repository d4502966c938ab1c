import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it, onTestFinished } from 'vitest'
import { encodeDatagram, encodeMessage, MSG_TYPE_OF, type SnMessage } from '../src/index.js'
import { every } from './fixtures/messages.js'

// Wireshark's MQTT-SN dissector (tshark) reads what our encoder writes: an independent decoder of every
// message type. The datagrams go into a pcap file (raw IPv4 + UDP), so no capture privileges are needed.

const PORT = 1883
const hex2 = (value: number): string => `0x${value.toString(16).padStart(2, '0')}`

function ipv4Udp(payload: Buffer): Buffer {
  const udp = Buffer.alloc(8)
  udp.writeUInt16BE(PORT, 0)
  udp.writeUInt16BE(PORT, 2)
  udp.writeUInt16BE(8 + payload.length, 4)
  const ip = Buffer.alloc(20)
  ip[0] = 0x45
  ip.writeUInt16BE(20 + 8 + payload.length, 2)
  ip[8] = 64
  ip[9] = 17
  ip.set([127, 0, 0, 1], 12)
  ip.set([127, 0, 0, 1], 16)
  let sum = 0
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16)
  ip.writeUInt16BE(~sum & 0xffff, 10)
  return Buffer.concat([ip, udp, payload])
}

/** A classic pcap file, link type 101 (raw IP). */
function pcap(datagrams: Buffer[]): Buffer {
  const header = Buffer.alloc(24)
  header.writeUInt32LE(0xa1b2c3d4, 0)
  header.writeUInt16LE(2, 4)
  header.writeUInt16LE(4, 6)
  header.writeUInt32LE(65535, 16)
  header.writeUInt32LE(101, 20)
  const records = datagrams.map((datagram) => {
    const frame = ipv4Udp(datagram)
    const record = Buffer.alloc(16)
    record.writeUInt32LE(frame.length, 8)
    record.writeUInt32LE(frame.length, 12)
    return Buffer.concat([record, frame])
  })
  return Buffer.concat([header, ...records])
}

/**
 * The dissector's fields we expect for a message: those that carry its content, except where the dissector
 * shows less (it decodes no QoS/retain in WILLTOPIC and SUBACK, and prints a predefined id in SUBSCRIBE as text).
 */
function expectedFields(message: SnMessage): Record<string, string> {
  const fields: Record<string, string> = { 'mqttsn.msg.type': hex2(MSG_TYPE_OF[message.type]), 'mqttsn.msg.len': String(encodeMessage(message).length) }
  const qos = (q: number): string => hex2(q === -1 ? 3 : q)
  switch (message.type) {
    case 'advertise':
      return { ...fields, 'mqttsn.gw.id': String(message.gatewayId), 'mqttsn.adv.interv': String(message.duration) }
    case 'searchgw':
      return { ...fields, 'mqttsn.radius': String(message.radius) }
    case 'gwinfo':
      return { ...fields, 'mqttsn.gw.id': String(message.gatewayId) }
    case 'connect':
      return {
        ...fields,
        'mqttsn.will': message.will ? '1' : '0',
        'mqttsn.clean.session': message.cleanSession ? '1' : '0',
        'mqttsn.protocol.id': '0x01',
        'mqttsn.keep.alive': String(message.duration),
        'mqttsn.client.id': message.clientId,
      }
    case 'connack':
    case 'willtopicresp':
    case 'willmsgresp':
      return { ...fields, 'mqttsn.return.code': hex2(message.returnCode) }
    case 'willtopic':
    case 'willtopicupd':
      return message.will === undefined ? fields : { ...fields, 'mqttsn.will.topic': message.will.topic }
    case 'willmsg':
    case 'willmsgupd':
      return { ...fields, 'mqttsn.will.msg': message.payload.toString() }
    case 'register':
      return { ...fields, 'mqttsn.topic.id': String(message.topicId), 'mqttsn.msg.id': String(message.msgId), 'mqttsn.topic': message.topicName }
    case 'regack':
    case 'puback':
      return { ...fields, 'mqttsn.topic.id': String(message.topicId), 'mqttsn.msg.id': String(message.msgId), 'mqttsn.return.code': hex2(message.returnCode) }
    case 'publish':
      return {
        ...fields,
        'mqttsn.dup': message.dup ? '1' : '0',
        'mqttsn.qos': qos(message.qos),
        'mqttsn.retain': message.retain ? '1' : '0',
        'mqttsn.topic.id.type': hex2(message.topicIdType),
        'mqttsn.topic.id': String(message.topicId),
        'mqttsn.msg.id': String(message.msgId),
      }
    case 'pubcomp':
    case 'pubrec':
    case 'pubrel':
    case 'unsuback':
      return { ...fields, 'mqttsn.msg.id': String(message.msgId) }
    case 'subscribe':
    case 'unsubscribe':
      return {
        ...fields,
        'mqttsn.topic.id.type': hex2(message.topicIdType),
        'mqttsn.msg.id': String(message.msgId),
        ...(message.topicIdType === 1 ? {} : { 'mqttsn.topic.name.or.id': message.topicName }),
      }
    case 'suback':
      return { ...fields, 'mqttsn.topic.id': String(message.topicId), 'mqttsn.msg.id': String(message.msgId), 'mqttsn.return.code': hex2(message.returnCode) }
    case 'pingreq':
      return message.clientId === undefined ? fields : { ...fields, 'mqttsn.client.id': message.clientId }
    case 'disconnect':
      return message.duration === undefined ? fields : { ...fields, 'mqttsn.sleep.timer': String(message.duration) }
    case 'willtopicreq':
    case 'willmsgreq':
    case 'pingresp':
      return fields
  }
}

type Layer = Record<string, unknown>

async function dissect(datagrams: Buffer[]): Promise<Layer[]> {
  const dir = await mkdtemp(join(tmpdir(), 'wren-mqttsn-tshark-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'datagrams.pcap')
  await writeFile(file, pcap(datagrams))
  const { stdout } = await promisify(execFile)('tshark', ['-r', file, '-d', `udp.port==${PORT},mqttsn`, '-T', 'json', '-J', 'mqttsn'], {
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  })
  const frames = JSON.parse(stdout) as Array<{ _source: { layers: { mqttsn?: { 'mqttsn.msg'?: Layer } } } }>
  return frames.map((frame) => frame._source.layers.mqttsn?.['mqttsn.msg'] ?? {})
}

function pick(layer: Layer, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((key) => [key, layer[key]]))
}

describe("our encoder against Wireshark's MQTT-SN dissector (tshark)", () => {
  it('dissects every message type as encoded, with its fields', async () => {
    const layers = await dissect(every.map((message) => encodeMessage(message)))
    expect(layers).toHaveLength(every.length)
    const expected = every.map((message) => ({ message: message.type, fields: expectedFields(message) }))
    const seen = every.map((message, i) => ({ message: message.type, fields: pick(layers[i] as Layer, Object.keys(expectedFields(message))) }))
    expect(seen).toEqual(expected)
  })

  it('dissects the 3-octet length and the forwarder encapsulation', async () => {
    const long: SnMessage = { type: 'publish', dup: false, qos: 1, retain: false, topicIdType: 0, topicId: 3, msgId: 4, payload: Buffer.alloc(400, 0x61) }
    const [big, wrapped] = await dissect([encodeMessage(long), encodeDatagram({ type: 'connack', returnCode: 1 }, { ctrl: 2, wirelessNodeId: Buffer.from([0x0a, 0x0b]) })])
    expect(pick(big as Layer, ['mqttsn.msg.len', 'mqttsn.msg.id'])).toEqual({ 'mqttsn.msg.len': '409', 'mqttsn.msg.id': '4' })
    expect(pick(wrapped as Layer, ['mqttsn.msg.type', 'mqttsn.control.info', 'mqttsn.wireless.node.id'])).toEqual({
      'mqttsn.msg.type': '0xfe',
      'mqttsn.control.info': '0x02',
      'mqttsn.wireless.node.id': String(0x0a0b),
    })
    expect(pick((wrapped as Layer)['mqttsn.msg'] as Layer, ['mqttsn.msg.type', 'mqttsn.return.code'])).toEqual({ 'mqttsn.msg.type': '0x05', 'mqttsn.return.code': '0x01' })
  })
})

import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { connectClient } from '../../core/test/helpers/clients.js'
import { startGateway } from './helpers.js'

// Debian's python3 (with python3-scapy), not whatever python a version manager puts first on PATH.
const PYTHON = '/usr/bin/python3'
const script = fileURLToPath(new URL('./fixtures/scapy_session.py', import.meta.url))

describe('MQTT-SN gateway against scapy.contrib.mqttsn (an independent encoder and decoder)', () => {
  it('accepts scapy-built datagrams for every client message type, and scapy parses every reply', async () => {
    const gw = await startGateway({ gatewayId: 5 })
    const sub = await connectClient(gw.url)
    await sub.client.subscribeAsync('scapy/#', { qos: 2 })
    const { stdout } = await promisify(execFile)(PYTHON, [script, String(gw.udpPort)], { timeout: 60_000 })
    const out = JSON.parse(stdout) as Record<string, unknown>
    expect(out).toEqual({
      gwinfo: ['GWINFO', 5],
      connect: ['WILLTOPICREQ', 'WILLMSGREQ', ['CONNACK', 0]],
      regack: ['REGACK', 1, 0, true],
      puback: ['PUBACK', true, 2, 0],
      qos2: ['PUBREC', 3, 'PUBCOMP', 3],
      long: ['PUBACK', 0],
      suback: ['SUBACK', 5, 0, 0, 1],
      echo: [true, 1, 'echo', 0],
      register: ['REGISTER', 'scapy/loop/b', 'PUBLISH', true, 400, 409],
      short: ['SUBACK', 0],
      unsuback: ['UNSUBACK', 9],
      willtopicupd: ['WILLTOPICRESP', 0],
      willmsgupd: ['WILLMSGRESP', 0],
      ping: 'PINGRESP',
      encapsulated: ['Encapsulated message', '0a0b', 'CONNACK', 0],
      disconnect: 'DISCONNECT',
    })
    // MQTT.js hands a QoS 2 message over at PUBREL, so arrival order is not publish order.
    const got = (await sub.inbox.take(5)).map((m) => [m.topic, m.payload.length > 10 ? String(m.payload.length) : m.payload.toString(), m.qos])
    expect(got.sort()).toEqual([
      ['scapy/loop/a', 'echo', 1],
      ['scapy/loop/b', '400', 0],
      ['scapy/temp', '23.5', 1],
      ['scapy/temp', '24.0', 2],
      ['scapy/temp', '300', 1],
    ])
    expect(gw.gateway.stats.datagramsMalformed).toBe(0)
  })
})

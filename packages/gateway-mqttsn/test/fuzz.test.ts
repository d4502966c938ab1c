import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { connectClient } from '../../core/test/helpers/clients.js'
import { capturingLogger } from '../../core/test/helpers/logger.js'
import { MalformedDatagram, MqttSnClient, ReturnCode, decodeDatagram, encodeDatagram, encodeMessage, type SnMessage } from '../src/index.js'
import { snClient, startGateway } from './helpers.js'

// The datagram parser on arbitrary, truncated and mutated input: it either decodes or throws MalformedDatagram,
// what it decodes re-encodes to the same message, and a gateway fed such datagrams over UDP keeps serving.

const u16 = fc.integer({ min: 0, max: 0xffff })
const text = fc.string({ maxLength: 20 })
const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((array) => Buffer.from(array))
const qos = fc.constantFrom(-1, 0, 1, 2) as fc.Arbitrary<-1 | 0 | 1 | 2>
const returnCode = fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<0 | 1 | 2 | 3>
const will = fc.option(fc.record({ qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>, retain: fc.boolean(), topic: fc.string({ minLength: 1, maxLength: 10 }) }), { nil: undefined })

const message: fc.Arbitrary<SnMessage> = fc.oneof(
  fc.record({ type: fc.constant('connect' as const), will: fc.boolean(), cleanSession: fc.boolean(), duration: u16, clientId: text }),
  fc.record({ type: fc.constant('register' as const), topicId: u16, msgId: u16, topicName: text }),
  fc.record({
    type: fc.constant('publish' as const),
    dup: fc.boolean(),
    qos,
    retain: fc.boolean(),
    topicIdType: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>,
    topicId: u16,
    msgId: u16,
    payload: bytes(400),
  }),
  fc.record({ type: fc.constant('puback' as const), topicId: u16, msgId: u16, returnCode }),
  fc.record({ type: fc.constantFrom('pubrec' as const, 'pubrel' as const, 'pubcomp' as const, 'unsuback' as const), msgId: u16 }),
  fc.record({ type: fc.constant('subscribe' as const), dup: fc.boolean(), qos, msgId: u16, topicIdType: fc.constant(0 as const), topicName: fc.string({ minLength: 1, maxLength: 12 }) }),
  fc.record({ type: fc.constant('unsubscribe' as const), msgId: u16, topicIdType: fc.constant(1 as const), topicId: u16 }),
  fc.record({ type: fc.constant('pingreq' as const), clientId: fc.string({ minLength: 1, maxLength: 10 }) }),
  fc.record({ type: fc.constant('disconnect' as const), duration: u16 }),
  fc.record({ type: fc.constantFrom('willtopic' as const, 'willtopicupd' as const), will }),
  fc.record({ type: fc.constantFrom('willmsg' as const, 'willmsgupd' as const), payload: bytes(20) }),
  fc.record({ type: fc.constant('searchgw' as const), radius: fc.integer({ min: 0, max: 255 }) }),
)

/** A valid datagram, then possibly truncated, extended, or with octets overwritten. */
const datagram: fc.Arbitrary<Buffer> = fc.oneof(
  message.map((m) => encodeMessage(m)),
  fc.tuple(message, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([m, at, value]) => {
    const out = Buffer.from(encodeMessage(m))
    out[at % out.length] = value
    return out
  }),
  fc.tuple(message, fc.nat()).map(([m, cut]) => {
    const out = encodeMessage(m)
    return out.subarray(0, cut % out.length)
  }),
  fc.tuple(message, bytes(8)).map(([m, tail]) => Buffer.concat([encodeMessage(m), tail])),
  fc.tuple(message, bytes(4), fc.integer({ min: 0, max: 3 })).map(([m, node, ctrl]) => encodeDatagram(m, { ctrl, wirelessNodeId: node })),
  bytes(64),
)

describe('MQTT-SN datagram parser fuzzing', () => {
  it('decodes or throws MalformedDatagram, and what it decodes survives a re-encoding', () => {
    fc.assert(
      fc.property(datagram, (input) => {
        let decoded
        try {
          decoded = decodeDatagram(input)
        } catch (error) {
          expect(error).toBeInstanceOf(MalformedDatagram)
          return
        }
        const again = decodeDatagram(encodeDatagram(decoded.message, decoded.forwarder))
        expect(again).toEqual(decoded)
      }),
      { numRuns: 5000 },
    )
  })

  it('a gateway fed random and mutated datagrams from many sockets keeps serving, and logs no error', async () => {
    const logger = capturingLogger()
    const failures: unknown[] = []
    const record = (error: unknown): void => {
      failures.push(error)
    }
    process.on('uncaughtException', record)
    process.on('unhandledRejection', record)
    try {
      const gw = await startGateway({ predefined: { 1: 'p/one' }, retryInterval: 200 }, { logger })
      const sub = await connectClient(gw.url)
      await sub.client.subscribeAsync('steady')
      const steady = await snClient(gw, { clientId: 'steady' })
      const senders = await Promise.all([1, 2, 3, 4].map(() => MqttSnClient.open({ port: gw.udpPort, clientId: 'fuzzer' })))
      const samples = fc.sample(datagram, { numRuns: 400, seed: 14 })
      let round = 0
      for (const [i, bytes] of samples.entries()) {
        ;(senders[i % senders.length] as MqttSnClient).sendRaw(bytes)
        // Every 50 datagrams, a round trip proves the gateway still answers (and lets the datagrams be handled).
        if (i % 50 === 49) {
          round++
          expect(await steady.publish('steady', String(round), { qos: 1 })).toBe(ReturnCode.Accepted)
          expect((await sub.inbox.next()).payload.toString()).toBe(String(round))
        }
      }
      for (const sender of senders) sender.close()
      expect(gw.gateway.stats.datagramsReceived).toBeGreaterThanOrEqual(samples.length)
      expect(gw.gateway.stats.datagramsMalformed).toBeGreaterThan(0)
      const fresh = await snClient(gw)
      expect(await fresh.publish('steady', 'fresh', { qos: 1 })).toBe(ReturnCode.Accepted)
      expect((await sub.inbox.next()).payload.toString()).toBe('fresh')
      expect(logger.errors).toEqual([])
      expect(failures).toEqual([])
    } finally {
      process.off('uncaughtException', record)
      process.off('unhandledRejection', record)
    }
  })
})

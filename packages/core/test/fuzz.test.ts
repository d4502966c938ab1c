import net from 'node:net'
import fc from 'fast-check'
import { generate, type Packet } from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import type { Logger } from '../src/index.js'
import { connectClient, sleep, uniqueId } from './helpers/clients.js'
import { startBroker } from './helpers/start-broker.js'

// Random, truncated and mutated MQTT byte streams over real TCP to one broker. After each: the broker still admits
// a fresh client, a long-lived subscriber still gets what a long-lived publisher sends, nothing reached
// uncaughtException / unhandledRejection, and the broker logged no error (a packet handler that throws is logged
// as one, even though only its connection suffers).

type Version = 3 | 4 | 5

const uint16 = fc.integer({ min: 1, max: 0xffff })
const qos = fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>
const topic = fc.constantFrom('a', 'a/b', 'fuzz/x/y', '$SYS/x', 'a/+/c', '#', '', 'x'.repeat(300), 'ü/∂')
const filter = fc.constantFrom('a/#', '+/b', '#', '$share/g/a', '$share/g/#', '$share//a', 'a//b', 'fuzz/+', 'a/#/b')
const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((array) => Buffer.from(array))
const userProperties = fc.option(fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }), { nil: undefined })

const connectPacket = (version: Version) =>
  fc.record({
    clientId: fc.string({ maxLength: 12 }).map((id) => `fuzz-${id}`),
    clean: fc.boolean(),
    keepalive: fc.integer({ min: 0, max: 120 }),
    username: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }),
    password: fc.option(bytes(8), { nil: undefined }),
    will: fc.option(fc.record({ topic, payload: bytes(16), qos, retain: fc.boolean() }), { nil: undefined }),
    properties: version === 5
      ? fc.option(
          fc.record(
            {
              sessionExpiryInterval: fc.nat(),
              receiveMaximum: uint16,
              maximumPacketSize: fc.integer({ min: 1, max: 0xfffffff }),
              topicAliasMaximum: fc.nat({ max: 0xffff }),
              requestProblemInformation: fc.boolean(),
              userProperties,
            },
            { requiredKeys: [] },
          ),
          { nil: undefined },
        )
      : fc.constant(undefined),
  }).map((fields): Packet => ({
    cmd: 'connect',
    protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: version,
    ...fields,
    ...(fields.properties === undefined ? {} : { properties: fields.properties as Record<string, unknown> }),
  }) as Packet)

const afterConnect = (version: Version): fc.Arbitrary<Packet> =>
  fc.oneof(
    fc.record({
      topic,
      payload: bytes(64),
      qos,
      retain: fc.boolean(),
      dup: fc.boolean(),
      messageId: uint16,
      properties: version === 5
        ? fc.option(
            fc.record(
              {
                topicAlias: fc.integer({ min: 1, max: 20 }),
                messageExpiryInterval: fc.nat(),
                payloadFormatIndicator: fc.boolean(),
                responseTopic: topic,
                correlationData: bytes(8),
                userProperties,
              },
              { requiredKeys: [] },
            ),
            { nil: undefined },
          )
        : fc.constant(undefined),
    }).map((fields) => ({ cmd: 'publish', ...fields }) as Packet),
    fc.record({
      messageId: uint16,
      subscriptions: fc.array(
        fc.record({ topic: filter, qos, nl: fc.boolean(), rap: fc.boolean(), rh: fc.constantFrom(0, 1, 2) }),
        { minLength: 1, maxLength: 3 },
      ),
    }).map((fields) => ({ cmd: 'subscribe', ...fields }) as Packet),
    fc.record({ messageId: uint16, unsubscriptions: fc.array(filter, { minLength: 1, maxLength: 3 }) }).map(
      (fields) => ({ cmd: 'unsubscribe', ...fields }) as Packet,
    ),
    fc.record({ cmd: fc.constantFrom('puback', 'pubrec', 'pubrel', 'pubcomp'), messageId: uint16 }).map((fields) => fields as Packet),
    fc.constantFrom({ cmd: 'pingreq' } as Packet, { cmd: 'disconnect' } as Packet),
    ...(version === 5 ? [fc.constant({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'X' } } as Packet)] : []),
  )

/** Encodes a packet; a combination mqtt-packet itself refuses to write is left out of the stream. */
function encode(packet: Packet, version: Version): Buffer {
  try {
    return generate(packet, { protocolVersion: version })
  } catch {
    return Buffer.alloc(0)
  }
}

/** A stream of valid packets: a CONNECT (sometimes) and what a client sends after it. */
const validSegments = fc.constantFrom(3, 4, 5).chain((v) => {
  const version = v as Version
  return fc.tuple(fc.boolean(), connectPacket(version), fc.array(afterConnect(version), { maxLength: 4 })).map(
    ([withConnect, connect, rest]) => [...(withConnect ? [connect] : []), ...rest].map((packet) => encode(packet, version)).filter((b) => b.length > 0),
  )
})

interface FuzzCase {
  kind: string
  bytes: Buffer
  /** Where the bytes are split into separate writes, to reach the parser at odd boundaries. */
  splits: number[]
}

const randomBytes = fc.tuple(fc.option(validSegments.map((s) => s[0]), { nil: undefined }), bytes(512)).map(([prefix, noise]) => ({
  kind: 'random',
  bytes: Buffer.concat([prefix ?? Buffer.alloc(0), noise]),
}))

const truncated = fc.tuple(validSegments, fc.nat()).map(([segments, cut]) => {
  const all = Buffer.concat(segments)
  return { kind: 'truncated', bytes: all.subarray(0, all.length === 0 ? 0 : cut % all.length) }
})

const mutated = fc
  .tuple(validSegments, fc.nat(), fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 }))
  .map(([segments, which, flips]) => {
    if (segments.length === 0) return { kind: 'mutated', bytes: Buffer.alloc(0) }
    const index = which % segments.length
    const target = Buffer.from(segments[index]!)
    for (const { at, value } of flips) target[at % target.length] = value
    segments[index] = target
    return { kind: 'mutated', bytes: Buffer.concat(segments) }
  })

const fuzzCase: fc.Arbitrary<FuzzCase> = fc
  .tuple(fc.oneof(randomBytes, truncated, mutated), fc.array(fc.nat(), { maxLength: 3 }))
  .map(([{ kind, bytes: data }, splits]) => ({ kind, bytes: data, splits }))

/** Writes the bytes (in pieces), then waits until the broker closes the connection or goes quiet, and hangs up. */
async function feed(port: number, { bytes: data, splits }: FuzzCase): Promise<void> {
  const socket = net.connect({ port, host: '127.0.0.1' })
  socket.on('error', () => {})
  socket.on('data', () => {})
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  const cuts = [...new Set(splits.map((at) => (data.length === 0 ? 0 : at % data.length)))].sort((a, b) => a - b)
  let from = 0
  for (const at of [...cuts, data.length]) {
    if (at > from) socket.write(data.subarray(from, at))
    from = at
    await new Promise((resolve) => setImmediate(resolve))
  }
  await Promise.race([new Promise((resolve) => socket.once('close', resolve)), sleep(25)])
  socket.destroy()
}

describe('fuzzing the broker over TCP', () => {
  it('survives random, truncated and mutated packets, and keeps serving everyone else', { timeout: 60_000 }, async () => {
    const errors: string[] = []
    const logger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: (obj, msg) => errors.push(`${msg}: ${JSON.stringify(obj)}`) }
    const crashes: unknown[] = []
    const record = (error: unknown): void => void crashes.push(error)
    process.on('uncaughtException', record)
    process.on('unhandledRejection', record)
    try {
      const b = await startBroker({ sysInterval: 0, logger, connectTimeout: 1000 })
      b.broker.on('error', record)
      const bystander = await connectClient(b.url, { clientId: uniqueId('bystander'), protocolVersion: 5 })
      await bystander.client.subscribeAsync('bystander/check', { qos: 1 })
      const publisher = await connectClient(b.url, { clientId: uniqueId('publisher') })
      const kinds = new Map<string, number>()

      await fc.assert(
        fc.asyncProperty(fuzzCase, async (input) => {
          kinds.set(input.kind, (kinds.get(input.kind) ?? 0) + 1)
          await feed(b.port, input)
          const fresh = await connectClient(b.url, { clientId: uniqueId('fresh') })
          fresh.client.end(true)
          const payload = uniqueId('check')
          await publisher.client.publishAsync('bystander/check', payload, { qos: 1 })
          await bystander.inbox.next((m) => m.payload.toString() === payload, 2000, `the bystander's message ${payload}`)
          expect(crashes).toEqual([])
          expect(errors).toEqual([])
        }),
        { numRuns: 600, plugins: [fc.timeout(5000), fc.interruptAfterTimeLimit(30_000)] },
      )
      expect([...kinds.values()].reduce((a, n) => a + n, 0)).toBeGreaterThan(100)
      expect([bystander.client.connected, publisher.client.connected]).toEqual([true, true])
    } finally {
      process.off('uncaughtException', record)
      process.off('unhandledRejection', record)
    }
  })
})

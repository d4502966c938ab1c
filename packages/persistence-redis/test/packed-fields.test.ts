import { Redis } from 'ioredis'
import { encodeEnvelope } from '@wren/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PackedFields } from '../src/packed-fields.js'
import { PackedReply } from '../src/packed-reply.js'
import { type RedisServer, startRedisServer } from './redis-server.js'

let server: RedisServer
let redis: Redis

beforeAll(async () => {
  server = await startRedisServer()
  redis = new Redis(server.url)
})

afterAll(async () => {
  redis?.disconnect()
  await server?.stop()
})

/** The fields as Redis' cmsgpack unpacks them, each as the bytes of its Lua string in hex (quick to compare). */
async function unpacked(packed: PackedFields): Promise<string[]> {
  const fields = (await redis.callBuffer('EVAL', 'return cmsgpack.unpack(ARGV[1])', 0, packed.finish())) as Buffer[]
  return fields.map((field) => field.toString('hex'))
}

const hex = (value: string | Buffer): string => Buffer.from(value).toString('hex')

describe('PackedFields, read back by Redis cmsgpack', () => {
  it('carries strings of every header size as their UTF-8 bytes, ASCII or not', async () => {
    // Lengths on both sides of each header's bound: fixstr up to 10 units, str8 up to 85, str16 up to 21,845.
    const strings: string[] = []
    for (const length of [0, 1, 10, 11, 85, 86]) {
      strings.push('a'.repeat(length), 'ü'.repeat(length), '€'.repeat(length), '😀'.repeat(length >> 1), `${'a'.repeat(Math.max(length - 1, 0))}€`)
    }
    for (const length of [21_845, 21_846]) strings.push('a'.repeat(length), '€'.repeat(length))
    // a lone surrogate, which UTF-8 writes as U+FFFD
    strings.push('\ud800x')
    const packed = new PackedFields(1)
    for (const value of strings) packed.string(value)
    expect(await unpacked(packed)).toEqual(strings.map(hex))
  })

  it('carries numbers as their decimal strings', async () => {
    const packed = new PackedFields()
    packed.number(-1)
    packed.number(65_535)
    expect(await unpacked(packed)).toEqual(['-1', '65535'].map(hex))
  })

  it("writes a message envelope byte for byte as encodeEnvelope, whatever its header's size", async () => {
    // the last grows the packing past its first 16 KiB
    const headers = [{ topic: 'a' }, { topic: 'ü/€/😀', user: 'x'.repeat(300) }, { topic: 't'.repeat(20_000) }]
    const payloads = [Buffer.alloc(0), Buffer.from('payload')]
    const packed = new PackedFields(1)
    const expected: string[] = []
    for (const header of headers) {
      for (const payload of payloads) {
        packed.envelope(JSON.stringify(header), payload)
        expected.push(hex(encodeEnvelope(header, payload)))
      }
    }
    expect(await unpacked(packed)).toEqual(expected)
  })
})

describe('PackedReply, reading what Redis cmsgpack packs', () => {
  /** The strings as a script's `cmsgpack.pack` reply returns them, read back field by field. */
  async function roundTrip(strings: string[]): Promise<string[]> {
    const reply = new PackedReply((await redis.callBuffer('EVAL', 'return cmsgpack.pack(ARGV)', 0, ...strings)) as Buffer)
    const read: string[] = []
    for (let i = 0; i < reply.length; i++) read.push(reply.string())
    return read
  }

  it('reads strings of every header size and arrays of every header size', async () => {
    // fixstr up to 31 bytes, str8 up to 255, str16 up to 65,535, str32 beyond
    const strings = [0, 1, 31, 32, 255, 256, 65_535, 65_536].map((bytes) => 'a'.repeat(bytes))
    strings.push('ü€😀')
    expect(await roundTrip(strings)).toEqual(strings)
    // fixarray up to 15 fields, array16 up to 65,535
    for (const count of [0, 15, 16, 65_536]) {
      const many = Array.from({ length: count }, (_, i) => String(i))
      expect(await roundTrip(many)).toEqual(many)
    }
  })
})

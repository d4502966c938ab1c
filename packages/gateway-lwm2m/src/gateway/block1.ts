import type { ParsedPacket } from 'coap-packet'

interface Body {
  parts: Buffer[]
  size: number
  next: number
  touched: number
}

/** What to do with one Block1 request: answer 2.31 (or an error) now, or hand on the whole body. */
export type Block1Outcome = { answer: string } | { body: Buffer }

/**
 * Reassembles request bodies sent block-wise (RFC 7959 §2.5). node-coap's server keys blocks by token, but a
 * client may use a new token per block (libcoap does): bodies are keyed by peer, method and URI options instead.
 */
export class Block1Assembler {
  private readonly bodies = new Map<string, Body>()

  constructor(
    private readonly maxBodySize: number,
    private readonly maxBodies: number,
    private readonly ttlMs: number,
  ) {}

  add(peer: string, packet: ParsedPacket, block1: Buffer): Block1Outcome {
    const value = block1.length === 0 ? 0 : block1.readUIntBE(0, block1.length)
    const num = value >> 4
    const more = (value & 0x08) !== 0
    const size = 1 << ((value & 0x07) + 4)
    const key = `${peer} ${packet.code} ${packet.options
      .filter((option) => option.name === 'Uri-Path' || option.name === 'Uri-Query')
      .map((option) => option.value.toString())
      .join('/')}`
    const now = Date.now()
    let body = this.bodies.get(key)
    if (num === 0) {
      body = { parts: [], size: 0, next: 0, touched: now }
      this.bodies.delete(key)
      this.evict(now)
      this.bodies.set(key, body)
    }
    if (!body) return { answer: '4.08' }
    if (num < body.next) return { answer: '2.31' }
    if (num > body.next || (more && packet.payload.length !== size)) {
      this.bodies.delete(key)
      return { answer: '4.08' }
    }
    body.size += packet.payload.length
    if (body.size > this.maxBodySize) {
      this.bodies.delete(key)
      return { answer: '4.13' }
    }
    body.parts.push(packet.payload)
    body.next++
    body.touched = now
    if (more) return { answer: '2.31' }
    this.bodies.delete(key)
    return { body: Buffer.concat(body.parts) }
  }

  get pending(): number {
    return this.bodies.size
  }

  /** Forgets bodies abandoned mid-way, and the oldest when too many are open. */
  private evict(now: number): void {
    for (const [key, body] of this.bodies) {
      if (now - body.touched > this.ttlMs || this.bodies.size >= this.maxBodies) this.bodies.delete(key)
      else break
    }
  }
}

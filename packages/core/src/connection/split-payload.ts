/**
 * A large PUBLISH reaches the broker over several socket reads. Joining them into one Buffer costs a fresh
 * allocation the size of the payload (page faults, GC pressure) on top of the copy, per message: that join was
 * a quarter to a third of the broker's CPU on 64 KiB to 1 MiB payloads. So its payload is kept as views of
 * those reads and written to subscribers as they are (one writev). It is joined once, on the first read of
 * `payload` (a hook, a store, a bridge), and from then on that Buffer is the payload everyone sees.
 */

/** From this size on a payload is written to the socket on its own, and kept split as it arrived. */
export const LARGE_PAYLOAD = 16 * 1024

const SPLIT = Symbol('wren.splitPayload')

/** A payload left in the reads it arrived in: `length` bytes in all. */
export interface SplitPayload {
  parts: Buffer[]
  length: number
}

interface Carrier {
  payload?: Buffer | string
  [SPLIT]?: SplitPayload
}

function defineData(target: Carrier, payload: Buffer): void {
  Object.defineProperty(target, 'payload', { value: payload, writable: true, enumerable: true, configurable: true })
}

/**
 * One accessor shared by every split message: an object given it keeps V8's fast properties and a map shared
 * with the others, where an accessor of its own per message (closures over its parts) cost a dictionary-mode
 * object and about 10 µs per message.
 */
const JOIN_ON_READ: PropertyDescriptor & ThisType<Carrier> = {
  enumerable: true,
  configurable: true,
  get(): Buffer {
    const payload = joined(this[SPLIT] as SplitPayload)
    this[SPLIT] = undefined
    defineData(this, payload)
    return payload
  },
  set(value: Buffer): void {
    this[SPLIT] = undefined
    defineData(this, value)
  },
}

/**
 * Marks a parsed PUBLISH as carrying its payload in `split`: the packet's own `payload` stays empty; the message
 * made from it is given the parts (`giveSplitPayload`).
 */
export function markSplitPayload(packet: { payload: Buffer | string }, split: SplitPayload): void {
  ;(packet as Carrier)[SPLIT] = split
}

/** The split payload a parsed PUBLISH carries, if any. */
export function splitPayloadOf(packet: object): SplitPayload | undefined {
  return (packet as Carrier)[SPLIT]
}

/**
 * Gives `target`, which must not have a `payload` yet, one made of `split`'s parts, joined only when first read
 * (a hook, a store, a bridge); from then on that Buffer is the payload everyone sees.
 */
export function giveSplitPayload<T extends object>(target: T, split: SplitPayload): T & { payload: Buffer } {
  ;(target as Carrier)[SPLIT] = split
  Object.defineProperty(target, 'payload', JOIN_ON_READ)
  return target as T & { payload: Buffer }
}

/** The payload as one Buffer. */
export function joined(payload: Buffer | SplitPayload): Buffer {
  return Buffer.isBuffer(payload) ? payload : Buffer.concat(payload.parts, payload.length)
}

/** The parts of a payload not yet joined, or undefined (a whole Buffer, or split and since joined). */
export function splitParts(source: object): Buffer[] | undefined {
  return (source as Carrier)[SPLIT]?.parts
}

/** Payload size in bytes, without joining a split payload. */
export function payloadLength(message: { payload: Buffer }): number {
  return (message as Carrier)[SPLIT]?.length ?? message.payload.length
}

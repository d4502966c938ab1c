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

interface Split {
  parts: Buffer[]
  length: number
}

interface Carrier {
  payload?: Buffer | string
  [SPLIT]?: Split
}

function defineData(target: Carrier, payload: Buffer): void {
  Object.defineProperty(target, 'payload', { value: payload, writable: true, enumerable: true, configurable: true })
}

/** Gives `target` a payload made of `parts` (`length` bytes in all), joined only when first read. */
export function setSplitPayload(target: { payload?: Buffer | string }, parts: Buffer[], length: number): void {
  const carrier = target as Carrier
  Object.defineProperty(carrier, SPLIT, { value: { parts, length }, writable: true, enumerable: false, configurable: true })
  Object.defineProperty(carrier, 'payload', {
    enumerable: true,
    configurable: true,
    get(this: Carrier): Buffer {
      const joined = Buffer.concat(parts, length)
      this[SPLIT] = undefined
      defineData(this, joined)
      return joined
    },
    set(this: Carrier, value: Buffer): void {
      this[SPLIT] = undefined
      defineData(this, value)
    },
  })
}

/** The parts of a payload not yet joined, or undefined (a whole Buffer, or split and since joined). */
export function splitParts(source: object): Buffer[] | undefined {
  return (source as Carrier)[SPLIT]?.parts
}

/** Gives `to` the split payload of `from`, if `from` has one, without joining it. */
export function carrySplitPayload(from: object, to: { payload: Buffer }): void {
  const split = (from as Carrier)[SPLIT]
  if (split) setSplitPayload(to, split.parts, split.length)
}

/** Payload size in bytes, without joining a split payload. */
export function payloadLength(message: { payload: Buffer }): number {
  return (message as Carrier)[SPLIT]?.length ?? message.payload.length
}

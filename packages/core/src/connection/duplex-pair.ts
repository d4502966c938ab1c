import { Duplex } from 'node:stream'

type Callback = (error?: Error | null) => void

/**
 * Two connected in-memory streams: what is written to one is read from the other (Node 22.6 has
 * `stream.duplexPair`; this works on Node 20). A write completes only once the other side has room for it,
 * so backpressure crosses the pair as it crosses a socket. Ending or destroying one side ends the other.
 * Gateways and bridges hand one side to `broker.handle()` and speak MQTT on the other.
 */
export function duplexPair(): [Duplex, Duplex] {
  const sides: Duplex[] = []
  const eof = new Set<Duplex>()
  // A write the reader had no room for: completed when the reader asks for more.
  const held = new Map<Duplex, Callback>()
  const peer = (self: Duplex): Duplex => sides[sides[0] === self ? 1 : 0] as Duplex
  const deliver = (to: Duplex, chunk: Buffer | null): boolean => {
    if (to.destroyed || eof.has(to)) return true
    if (chunk === null) eof.add(to)
    return to.push(chunk)
  }
  const release = (reader: Duplex): void => {
    const callback = held.get(reader)
    if (!callback) return
    held.delete(reader)
    callback()
  }
  const make = (): Duplex =>
    new Duplex({
      allowHalfOpen: false,
      read() {
        release(this)
      },
      write(chunk: Buffer, _encoding, callback) {
        const to = peer(this)
        if (deliver(to, chunk)) callback()
        else held.set(to, callback)
      },
      final(callback) {
        deliver(peer(this), null)
        callback()
      },
      destroy(error, callback) {
        const to = peer(this)
        deliver(to, null)
        release(to)
        callback(error)
      },
    })
  sides.push(make(), make())
  return [sides[0] as Duplex, sides[1] as Duplex]
}

import { Duplex } from 'node:stream'

/**
 * Two connected in-memory streams: what is written to one is read from the other (Node 22.6 has
 * `stream.duplexPair`; this works on Node 20). Ending or destroying one side ends the other.
 */
export function duplexPair(): [Duplex, Duplex] {
  const sides: Duplex[] = []
  const eof = new Set<Duplex>()
  const peer = (self: Duplex): Duplex => sides[sides[0] === self ? 1 : 0] as Duplex
  const deliver = (to: Duplex, chunk: Buffer | null): void => {
    if (to.destroyed || eof.has(to)) return
    if (chunk === null) eof.add(to)
    to.push(chunk)
  }
  const make = (): Duplex =>
    new Duplex({
      allowHalfOpen: false,
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        deliver(peer(this), chunk)
        callback()
      },
      final(callback) {
        deliver(peer(this), null)
        callback()
      },
      destroy(error, callback) {
        deliver(peer(this), null)
        callback(error)
      },
    })
  sides.push(make(), make())
  return [sides[0] as Duplex, sides[1] as Duplex]
}

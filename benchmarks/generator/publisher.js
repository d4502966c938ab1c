// Senders that keep a connection's socket busy without letting anything buffer without bound: writes are
// corked in batches, a sender waits for 'drain' when the socket asks, QoS 1 keeps at most `window` messages
// awaiting PUBACK (the broker's in-flight limit seen from the client's side), and all senders of a scenario
// share a `Credit` that keeps them at most so many messages ahead of what subscribers have received. Without
// that credit a fast sender measures how much a broker can buffer, not how fast it delivers.
import { encodePublish, encodePublishPerMessageId } from './wire.js'

const BATCH = 64
const BATCHES_BEFORE_YIELD = 8

/** How many messages senders may have published that subscribers have not yet received. */
export class Credit {
  constructor(limit) {
    this.limit = limit
    this.sent = 0
    this.received = 0
    this.waiters = []
    this.wakeScheduled = false
  }

  get open() {
    return this.sent - this.received < this.limit
  }

  /** Counts `messages` (may be fractional: one delivery of a message fanned out to n is 1/n) as received. */
  settle(messages) {
    this.received += messages
    if (this.waiters.length > 0 && !this.wakeScheduled && this.open) {
      this.wakeScheduled = true
      setImmediate(() => this.wake())
    }
  }

  wake() {
    this.wakeScheduled = false
    const waiters = this.waiters
    this.waiters = []
    for (const resume of waiters) resume()
  }

  wait(resume) {
    this.waiters.push(resume)
  }
}

/** Publishes `count` identical messages as fast as socket and credit allow; resolves when all are written
 * (QoS 0) or acknowledged (QoS 1 PUBACK, QoS 2 PUBCOMP). */
export function publishAsFastAsPossible(client, { topic, payload, qos, count, window, credit }) {
  const { protocolVersion } = client
  return qos === 0
    ? publishQos0(client, encodePublish({ topic, payload, qos, protocolVersion }).bytes, count, credit)
    : publishAcknowledged(client, encodePublishPerMessageId({ topic, payload, qos, protocolVersion }, window).byId, count, credit)
}

function publishQos0(client, packet, count, credit) {
  const socket = client.socket
  let sent = 0
  return new Promise((resolve) => {
    const pump = () => {
      for (let batches = 0; batches < BATCHES_BEFORE_YIELD; batches++) {
        if (!credit.open) return credit.wait(pump)
        const end = Math.min(count, sent + BATCH)
        credit.sent += end - sent
        let writable = true
        socket.cork()
        while (sent < end) {
          writable = socket.write(packet)
          sent++
        }
        socket.uncork()
        if (sent === count) return resolve()
        if (!writable) return void socket.once('drain', pump)
      }
      setImmediate(pump)
    }
    pump()
  })
}

/** QoS 1 or 2: a packet id is reused only once the broker has completed its exchange. */
function publishAcknowledged(client, packetsById, count, credit) {
  const socket = client.socket
  const free = []
  for (let id = packetsById.length - 1; id >= 1; id--) free.push(id)
  let sent = 0
  let acked = 0
  let scheduled = false
  return new Promise((resolve) => {
    const pump = () => {
      scheduled = false
      if (!credit.open) return credit.wait(pump)
      socket.cork()
      while (free.length > 0 && sent < count && credit.open) {
        socket.write(packetsById[free.pop()])
        sent++
        credit.sent++
      }
      socket.uncork()
    }
    client.onPuback = (messageId) => {
      free.push(messageId)
      if (++acked === count) return resolve()
      if (!scheduled && sent < count) {
        scheduled = true
        setImmediate(pump)
      }
    }
    pump()
  })
}

/** Publishes each of `packets` (already encoded, QoS 1, ids 1..65535 cycling) keeping `window` unacknowledged. */
export function publishEncodedQos1(client, packets, window) {
  let sent = 0
  let acked = 0
  let inFlight = 0
  return new Promise((resolve) => {
    if (packets.length === 0) return resolve()
    const pump = () => {
      client.socket.cork()
      while (inFlight < window && sent < packets.length) {
        client.socket.write(packets[sent++])
        inFlight++
      }
      client.socket.uncork()
    }
    client.onPuback = () => {
      inFlight--
      if (++acked === packets.length) return resolve()
      pump()
    }
    pump()
  })
}

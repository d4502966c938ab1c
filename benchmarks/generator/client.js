// One raw MQTT connection of the load generator. Deliveries are counted by a callback, QoS 1 and 2 deliveries
// are acknowledged in one write per read, and the PUBACK (QoS 1) or PUBCOMP (QoS 2) that completes one of our
// own publishes is handed to the sender's window.
import net from 'node:net'
import tls from 'node:tls'
import { createWebSocketStream, WebSocket } from 'ws'
import { AckHeader, DISCONNECT, encodeAcks, encodeConnect, encodeSubscribe, PacketFramer, PacketType, publishPayloadStart } from './wire.js'

const NO_HANDLER = () => {}

export class Client {
  constructor(socket, clientId, protocolVersion = 4) {
    this.socket = socket
    this.clientId = clientId
    this.protocolVersion = protocolVersion
    /** (buffer, payloadStart, payloadEnd, qos) for each PUBLISH the broker delivers. */
    this.onPublish = NO_HANDLER
    /** (messageId) for each PUBACK or PUBCOMP that completes one of our publishes. */
    this.onPuback = NO_HANDLER
    this.waiting = new Map()
    /** The CONNACK's session-present flag. */
    this.sessionPresent = false
    this.ackHeaders = new Uint8Array(256)
    this.ackIds = new Uint16Array(256)
    this.ackCount = 0
    this.framer = new PacketFramer((type, flags, buffer, start, end) => this.dispatch(type, flags, buffer, start, end))
    socket.on('data', (chunk) => {
      this.framer.push(chunk)
      this.flushAcks()
    })
    socket.on('error', (error) => this.failAll(error))
    socket.on('close', () => this.failAll(new Error(`connection ${clientId} closed by the broker`)))
  }

  dispatch(type, flags, buffer, start, end) {
    if (type === PacketType.PUBLISH) {
      const qos = (flags >> 1) & 3
      if (qos > 0) this.queueAck(qos === 1 ? AckHeader.PUBACK : AckHeader.PUBREC, buffer.readUInt16BE(start + 2 + buffer.readUInt16BE(start)))
      this.onPublish(buffer, publishPayloadStart(buffer, start, qos, this.protocolVersion), end, qos)
    } else if (type === PacketType.PUBACK || type === PacketType.PUBCOMP) {
      this.onPuback(buffer.readUInt16BE(start))
    } else if (type === PacketType.PUBREC) {
      this.queueAck(AckHeader.PUBREL, buffer.readUInt16BE(start))
    } else if (type === PacketType.PUBREL) {
      this.queueAck(AckHeader.PUBCOMP, buffer.readUInt16BE(start))
    } else if (type === PacketType.CONNACK) {
      this.sessionPresent = (buffer[start] & 1) === 1
      this.settle('connack', buffer[start + 1] === 0 ? null : new Error(`CONNACK return code ${buffer[start + 1]}`))
    } else if (type === PacketType.SUBACK) {
      // v5: the packet id is followed by the properties (none from the brokers measured: a length of 0).
      const granted = buffer[start + (this.protocolVersion === 5 ? 3 : 2)]
      this.settle(`suback:${buffer.readUInt16BE(start)}`, granted === 0x80 ? new Error('subscription refused') : null)
    }
  }

  queueAck(header, messageId) {
    if (this.ackCount === this.ackIds.length) {
      const biggerIds = new Uint16Array(this.ackIds.length * 2)
      biggerIds.set(this.ackIds)
      this.ackIds = biggerIds
      const biggerHeaders = new Uint8Array(this.ackHeaders.length * 2)
      biggerHeaders.set(this.ackHeaders)
      this.ackHeaders = biggerHeaders
    }
    this.ackHeaders[this.ackCount] = header
    this.ackIds[this.ackCount++] = messageId
  }

  flushAcks() {
    if (this.ackCount === 0) return
    this.socket.write(encodeAcks(this.ackHeaders, this.ackIds, this.ackCount))
    this.ackCount = 0
  }

  expect(key) {
    return new Promise((resolve, reject) => this.waiting.set(key, { resolve, reject }))
  }

  settle(key, error) {
    const waiter = this.waiting.get(key)
    if (!waiter) return
    this.waiting.delete(key)
    if (error) waiter.reject(error)
    else waiter.resolve()
  }

  failAll(error) {
    for (const waiter of this.waiting.values()) waiter.reject(error)
    this.waiting.clear()
  }

  /** Subscribes and resolves once the broker's SUBACK grants it. */
  subscribe(filter, qos, messageId = 1) {
    const granted = this.expect(`suback:${messageId}`)
    this.socket.write(encodeSubscribe(messageId, filter, qos, this.protocolVersion))
    return granted
  }

  close() {
    this.socket.removeAllListeners('close')
    this.socket.destroy()
  }

  /** Sends DISCONNECT and resolves once the broker has closed the connection. */
  disconnect() {
    this.socket.removeAllListeners('close')
    const closed = new Promise((resolve) => this.socket.once('close', resolve))
    this.socket.end(DISCONNECT)
    return closed
  }
}

/**
 * A connection to the broker over `transport` (tcp, tls or ws) and the event after which it can carry MQTT
 * (none: `ws`'s duplex stream, as MQTT.js uses in Node, holds writes until the upgrade is done). The benchmark's
 * TLS certificate is self-signed for the run, so it is not verified.
 */
function open(transport, port, host) {
  if (transport === 'tls') return { socket: tls.connect({ port, host, rejectUnauthorized: false }), ready: 'secureConnect' }
  if (transport === 'ws') return { socket: createWebSocketStream(new WebSocket(`ws://${host}:${port}/mqtt`, 'mqtt')), ready: null }
  return { socket: net.connect({ port, host, noDelay: true }), ready: 'connect' }
}

/**
 * Opens a connection, sends CONNECT (a clean session unless `clean` is false; MQTT 3.1.1 unless
 * `protocolVersion` is 5; `credentials` `{ username, password }` when given) and resolves once the broker
 * accepts it. `onPublish` is set before CONNECT: a resumed session's messages may arrive with the CONNACK.
 */
export function connectClient({ port, host = '127.0.0.1', transport = 'tcp', clientId, keepalive = 0, clean = true, onPublish, protocolVersion = 4, credentials }) {
  return new Promise((resolve, reject) => {
    const { socket, ready } = open(transport, port, host)
    const client = new Client(socket, clientId, protocolVersion)
    if (onPublish) client.onPublish = onPublish
    const accepted = client.expect('connack')
    const connect = () => socket.write(encodeConnect(clientId, keepalive, clean, protocolVersion, credentials))
    if (ready) socket.once(ready, connect)
    else connect()
    accepted.then(
      () => resolve(client),
      (error) => {
        socket.destroy()
        reject(error)
      },
    )
  })
}

/** Runs `open(i)` for i in 0..count-1 with at most `concurrency` pending at once; resolves in index order. */
export async function inBatches(count, concurrency, open) {
  const results = new Array(count)
  let next = 0
  async function lane() {
    while (next < count) {
      const index = next++
      results[index] = await open(index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane))
  return results
}

#!/usr/bin/env node
// Measures what one client can make the broker stall for (issue 12): a SUBSCRIBE with 5,000 wildcard filters
// after 10,000 routed topics, the same filter repeated 5,000 times, and a 1.1 MiB v5 PUBLISH with 100,000
// user properties to 20 v5 subscribers. Prints the time to the answer and the longest event-loop block, and
// first that block for an idle second (what a loaded machine adds on its own).
// Usage: node benchmarks/hardening.js [built @wren/core entry] [subscribe|repeated|properties]   (figures, not a test)
import net from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { generate, parser } from 'mqtt-packet'

const core = await import(process.argv[2] ?? '@wren/core')

function rawClient(port, protocolVersion) {
  const socket = net.connect({ port, host: '127.0.0.1' })
  const p = parser({ protocolVersion })
  const waiters = []
  let bytes = 0
  let byteWaiter = null
  p.on('packet', (packet) => {
    const index = waiters.findIndex((w) => w.cmd === packet.cmd)
    if (index !== -1) waiters.splice(index, 1)[0].resolve(packet)
  })
  socket.on('data', (chunk) => {
    bytes += chunk.length
    // Counting only: a client parser of 100,000 properties would be measured instead of the broker.
    if (byteWaiter) {
      if (bytes >= byteWaiter.until) byteWaiter.resolve()
    } else p.parse(chunk)
  })
  return {
    send: (packet) => socket.write(generate(packet, { protocolVersion })),
    write: (bytes) => socket.write(bytes),
    next: (cmd) => new Promise((resolve) => waiters.push({ cmd, resolve })),
    /** Stops parsing; resolves once `count` more bytes arrived. */
    bytesArrived: (count) => new Promise((resolve) => (byteWaiter = { until: bytes + count, resolve })),
    close: () => socket.destroy(),
  }
}

async function connected(port, protocolVersion, clientId) {
  const client = rawClient(port, protocolVersion)
  client.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion, clientId, clean: true, keepalive: 0 })
  await client.next('connack')
  return client
}

async function withBroker(options, run) {
  const broker = core.createBroker(options)
  await broker.ready()
  const server = net.createServer((socket) => broker.handle(socket))
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    return await run(server.address().port, broker)
  } finally {
    server.close()
    await broker.close()
  }
}

/**
 * Runs `task`; returns its wall time, the longest event-loop block while it ran and the CPU time this process
 * spent meanwhile, in ms. On a loaded machine a block's wall time is mostly the OS running other processes.
 */
async function timed(task) {
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  const cpu = process.cpuUsage()
  const start = performance.now()
  await task()
  const wall = performance.now() - start
  const used = process.cpuUsage(cpu)
  delay.disable()
  return { wallMs: Math.round(wall), maxBlockMs: Math.round(delay.max / 1e6), processCpuMs: Math.round((used.user + used.system) / 1000) }
}

async function subscribeStall(filterOf) {
  return withBroker({ sysInterval: 0 }, async (port, broker) => {
    const stop = broker.subscribe('#', () => {})
    for (let i = 0; i < 10_000; i++) await broker.publish({ topic: `routed/${i}/x`, payload: 'x' })
    stop()
    for (let i = 0; i < 10_000; i++) await broker.publish({ topic: `routed/${i}/x`, payload: 'x' })
    const client = await connected(port, 4, 'many-filters')
    const subscriptions = Array.from({ length: 5000 }, (_, i) => ({ topic: filterOf(i), qos: 0 }))
    const packet = generate({ cmd: 'subscribe', messageId: 1, subscriptions }, { protocolVersion: 4 })
    // Counted, not parsed: this process's parser of a 5,000-code SUBACK would be measured with the broker.
    const subackBytes = generate({ cmd: 'suback', messageId: 1, granted: subscriptions.map(() => 0) }, { protocolVersion: 4 }).length
    const result = await timed(async () => {
      const answered = client.bytesArrived(subackBytes)
      client.write(packet)
      await answered
    })
    client.close()
    return result
  })
}

async function userPropertiesFanOut() {
  return withBroker({ sysInterval: 0, maxUserProperties: 200_000 }, async (port) => {
    const subscribers = []
    for (let i = 0; i < 20; i++) {
      const s = await connected(port, 5, `sub-${i}`)
      s.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'big/#', qos: 0 }] })
      await s.next('suback')
      subscribers.push(s)
    }
    const publisher = await connected(port, 5, 'publisher')
    const userProperties = {}
    for (let i = 0; i < 100_000; i++) userProperties[`k${i}`] = 'v'
    const packet = generate({ cmd: 'publish', topic: 'big/one', payload: Buffer.alloc(10), qos: 0, retain: false, dup: false, properties: { userProperties } }, { protocolVersion: 5 })
    const result = await timed(async () => {
      const arrived = subscribers.map((s) => s.bytesArrived(packet.length))
      publisher.write(packet)
      await Promise.all(arrived)
    })
    for (const s of [...subscribers, publisher]) s.close()
    return { ...result, packetBytes: packet.length }
  })
}

const only = process.argv[3]
// What the machine itself adds (other processes, the OS): the longest block while nothing runs here.
console.log('idle event loop for 1 s:', await timed(() => new Promise((resolve) => setTimeout(resolve, 1000))))
if (!only || only === 'subscribe') console.log('SUBSCRIBE 5,000 distinct wildcard filters after 10,000 routed topics:', await subscribeStall((i) => `f/${i}/+`))
if (!only || only === 'repeated') console.log("SUBSCRIBE 'alice/+/x' x 5,000 after 10,000 routed topics:", await subscribeStall(() => 'alice/+/x'))
if (!only || only === 'properties') console.log('v5 PUBLISH with 100,000 user properties to 20 v5 subscribers:', await userPropertiesFanOut())

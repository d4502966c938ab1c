#!/usr/bin/env node
// Measures what one client can make the broker stall for (issue 12): a SUBSCRIBE with 5,000 wildcard filters
// after 10,000 routed topics, the same filter repeated 5,000 times, an UNSUBSCRIBE of 5,000 filters, a clean
// disconnect of a client holding 5,000 filters, the restore of a persistent session holding 5,000 filters, a
// 1.1 MiB v5 PUBLISH with 100,000 user properties to 20 v5 subscribers, and the same PUBLISH refused at the
// default `maxUserProperties`. Prints the time to the answer and the longest event-loop block, and first that
// block for an idle second (what a loaded machine adds on its own).
// Usage: node benchmarks/hardening.js [built @wren/core entry]
//   [subscribe|repeated|unsubscribe|disconnect|restore|properties|property-refusal]   (figures, not a test)
// To compare two builds, build both in checkouts of their own (git worktree): a build in this checkout shares
// this script's copy of mqtt-packet, and with it the JIT's state, which alone moved process CPU by 40 ms.
import net from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { generate, parser } from 'mqtt-packet'
import { genBufVariableByteInt } from 'mqtt-packet/numbers.js'

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
    closed: new Promise((resolve) => socket.on('close', resolve)),
    /** Stops parsing; resolves once `count` more bytes arrived. */
    bytesArrived: (count) => new Promise((resolve) => (byteWaiter = { until: bytes + count, resolve })),
    close: () => socket.destroy(),
  }
}

async function connected(port, protocolVersion, clientId, clean = true) {
  const client = rawClient(port, protocolVersion)
  client.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion, clientId, clean, keepalive: 0 })
  await client.next('connack')
  return client
}

/**
 * One small round of each packet a mode times, in both protocol versions: lazy set-up on first use (the broker's
 * own copy of mqtt-packet builds its encoding tables then) would otherwise be measured as the operation's cost,
 * and only for a build whose dependencies are not this script's.
 */
async function warmUp(port) {
  for (const protocolVersion of [4, 5]) {
    const client = await connected(port, protocolVersion, `warm-up-${protocolVersion}`)
    client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'warm/+', qos: 1 }, { topic: 'warm/#', qos: 0 }] })
    await client.next('suback')
    client.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['warm/+', 'warm/#', 'never'] })
    await client.next('unsuback')
    client.send({ cmd: 'disconnect' })
    await client.closed
  }
}

async function withBroker(options, run) {
  const broker = core.createBroker(options)
  await broker.ready()
  const server = net.createServer((socket) => broker.handle(socket))
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    await warmUp(server.address().port)
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

/** Fills the topic-match cache: 10,000 topics routed while a wildcard listener exists, and again after it left. */
async function routeTopics(broker) {
  const stop = broker.subscribe('#', () => {})
  for (let i = 0; i < 10_000; i++) await broker.publish({ topic: `routed/${i}/x`, payload: 'x' })
  stop()
  for (let i = 0; i < 10_000; i++) await broker.publish({ topic: `routed/${i}/x`, payload: 'x' })
}

const manyFilters = Array.from({ length: 5000 }, (_, i) => `f/${i}/+`)

async function subscribeAll(client) {
  client.send({ cmd: 'subscribe', messageId: 1, subscriptions: manyFilters.map((topic) => ({ topic, qos: 0 })) })
  await client.next('suback')
}

async function subscribeStall(filterOf) {
  return withBroker({ sysInterval: 0 }, async (port, broker) => {
    await routeTopics(broker)
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

/** UNSUBSCRIBE of 5,000 held filters after 10,000 routed topics, to its UNSUBACK. */
async function unsubscribeStall() {
  return withBroker({ sysInterval: 0 }, async (port, broker) => {
    const client = await connected(port, 4, 'many-filters')
    await subscribeAll(client)
    await routeTopics(broker)
    const packet = generate({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: manyFilters }, { protocolVersion: 4 })
    const result = await timed(async () => {
      const answered = client.next('unsuback')
      client.write(packet)
      await answered
    })
    client.close()
    return { ...result, subscriptionsLeft: (await broker.admin.gauges()).subscriptions }
  })
}

/** A clean session holding 5,000 filters ends with DISCONNECT after 10,000 routed topics; timed to its `clientDisconnected`. */
async function disconnectStall() {
  return withBroker({ sysInterval: 0 }, async (port, broker) => {
    const client = await connected(port, 4, 'many-filters')
    await subscribeAll(client)
    await routeTopics(broker)
    const result = await timed(async () => {
      const gone = new Promise((resolve) => broker.once('clientDisconnected', resolve))
      client.send({ cmd: 'disconnect' })
      await gone
    })
    client.close()
    return { ...result, subscriptionsLeft: (await broker.admin.gauges()).subscriptions }
  })
}

/** A persistent session holding 5,000 filters comes back (clean session 0) after 10,000 routed topics; timed to its CONNACK. */
async function restoreStall() {
  return withBroker({ sysInterval: 0 }, async (port, broker) => {
    const first = await connected(port, 4, 'many-filters', false)
    await subscribeAll(first)
    first.send({ cmd: 'disconnect' })
    await first.closed
    await routeTopics(broker)
    let client
    const result = await timed(async () => {
      client = await connected(port, 4, 'many-filters', false)
    })
    client.close()
    return { ...result, subscriptions: (await broker.admin.gauges()).subscriptions }
  })
}

/** The 100,000-property PUBLISH at the default `maxUserProperties`: timed until the broker closes the publisher. */
async function userPropertiesRefusal() {
  return withBroker({ sysInterval: 0 }, async (port) => {
    const publisher = await connected(port, 5, 'publisher')
    const packet = publishWithUserProperties(100_000)
    let reasonCode
    const result = await timed(async () => {
      const disconnect = publisher.next('disconnect').then((packet) => (reasonCode = packet.reasonCode))
      publisher.write(packet)
      await Promise.race([disconnect, publisher.closed])
    })
    publisher.close()
    return { ...result, reasonCode, packetBytes: packet.length }
  })
}

/**
 * A v5 QoS 0 PUBLISH to `big/one` with `count` user properties `k<i>: v` and a 10-byte payload, written by hand:
 * mqtt-packet's encoder leaves tens of megabytes of garbage whose collection would be measured as the broker's.
 */
function publishWithUserProperties(count) {
  let propertiesLength = 0
  for (let i = 0; i < count; i++) propertiesLength += 1 + 2 + String(i).length + 1 + 2 + 1
  const properties = Buffer.alloc(propertiesLength)
  let pos = 0
  for (let i = 0; i < count; i++) {
    properties[pos++] = 38
    const name = `k${i}`
    pos = properties.writeUInt16BE(name.length, pos)
    pos += properties.write(name, pos, 'latin1')
    pos = properties.writeUInt16BE(1, pos)
    properties[pos++] = 0x76
  }
  const topic = Buffer.from('big/one')
  const body = Buffer.concat([Buffer.from([0, topic.length]), topic, genBufVariableByteInt(propertiesLength), properties, Buffer.alloc(10)])
  return Buffer.concat([Buffer.from([0x30]), genBufVariableByteInt(body.length), body])
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
    const packet = publishWithUserProperties(100_000)
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
if (!only || only === 'unsubscribe') console.log('UNSUBSCRIBE of 5,000 filters after 10,000 routed topics:', await unsubscribeStall())
if (!only || only === 'disconnect') console.log('clean DISCONNECT of a client holding 5,000 filters after 10,000 routed topics:', await disconnectStall())
if (!only || only === 'restore') console.log('restore of a persistent session holding 5,000 filters after 10,000 routed topics:', await restoreStall())
if (!only || only === 'property-refusal') console.log('v5 PUBLISH with 100,000 user properties at the default maxUserProperties:', await userPropertiesRefusal())
if (!only || only === 'properties') console.log('v5 PUBLISH with 100,000 user properties to 20 v5 subscribers:', await userPropertiesFanOut())

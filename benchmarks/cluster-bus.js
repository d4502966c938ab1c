#!/usr/bin/env node
// The cluster bus's own cost per forwarded message (encode, the Redis hop, decode), without MQTT around it: two
// `@wren/cluster-redis` buses in this process on a redis-server of their own, node A forwarding messages to node B
// in ticks of `--batch` (as a broker's router does), B counting what it is handed. Reports this process's CPU
// (every bus: encoding, ioredis on both ends, decoding) and redis-server's CPU per forwarded message, and from the
// latter the forwards per second one Redis core carries at that batch size. `--builds` compares checkouts (each
// built) in one run, alternating per run; `--targets` forwards each message to that many nodes (a message routed to
// subscribers on several nodes). The build `floor` is no bus at all: the same PUBLISHes of the bare payloads, written
// and read on plain sockets, which is what Node and Redis pub/sub cost without a client library or a codec. Usage:
//   node benchmarks/cluster-bus.js [--builds /path/a,floor] [--messages 200000] [--batch 50] [--window N] [--payload 64] [--targets 1] [--runs 3]
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { redisStore } from './lib/brokers.js'
import { cpuMicros } from './lib/proc-stats.js'
import { median } from './lib/stats.js'

const { values } = parseArgs({
  options: {
    builds: { type: 'string' },
    messages: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '50' },
    payload: { type: 'string', default: '64' },
    targets: { type: 'string', default: '1' },
    runs: { type: 'string', default: '3' },
    window: { type: 'string' },
  },
})
const builds = values.builds ? values.builds.split(',') : [fileURLToPath(new URL('..', import.meta.url))]
const messages = Number(values.messages)
const batch = Number(values.batch)
const runs = Number(values.runs)
const targets = Array.from({ length: Number(values.targets) }, (_, i) => `b${i + 1}`)
const payload = Buffer.alloc(Number(values.payload), 0x61)
// At most this many messages on their way at once: the sender waits for the receivers, as held publishers would.
// `--window 1` sends each message only once the previous one arrived: a quiet cluster, where nothing can share a PUBLISH.
const window = values.window ? Number(values.window) : Math.max(20 * batch, 1000)

/** How many PUBLISH commands the redis-server at `url` has run. */
function publishCount(url) {
  const stats = execFileSync('redis-cli', ['-u', url, 'info', 'commandstats'], { encoding: 'utf8' })
  return Number(/cmdstat_publish:calls=(\d+)/.exec(stats)?.[1] ?? 0)
}

/** Reads RESP pub/sub pushes (`*3 message <channel> <payload>`) from a subscribed socket; skips everything else. */
function pushReader(onPayload) {
  let buffered = Buffer.alloc(0)
  return (chunk) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk
    let pos = 0
    for (;;) {
      const fields = []
      let at = buffered.indexOf('\r\n', pos)
      if (at < 0 || buffered[pos] !== 0x2a) break
      const count = Number(buffered.toString('latin1', pos + 1, at))
      at += 2
      for (let i = 0; i < count && at >= 0; i++) {
        const end = buffered.indexOf('\r\n', at)
        if (end < 0) at = -1
        else if (buffered[at] !== 0x24) {
          fields.push(null)
          at = end + 2
        } else {
          const length = Number(buffered.toString('latin1', at + 1, end))
          if (end + 2 + length + 2 > buffered.length) at = -1
          else {
            fields.push(buffered.subarray(end + 2, end + 2 + length))
            at = end + 2 + length + 2
          }
        }
      }
      if (at < 0) break
      pos = at
      if (fields[0]?.toString() === 'message') onPayload(fields[2])
    }
    buffered = buffered.subarray(pos)
  }
}

/** One PUBLISH per target and turn of the bare payloads on a plain socket, and a plain subscribed socket: the floor. */
function floorNode(url, nodeId, prefix) {
  const { hostname, port } = new URL(url)
  const channel = (node) => `${prefix}node:${node}`
  const sockets = []
  const pending = new Map()
  const open = async () => {
    const socket = connect(Number(port), hostname)
    socket.setNoDelay(true)
    await once(socket, 'connect')
    sockets.push(socket)
    return socket
  }
  let command
  const flush = () => {
    for (const [to, payloads] of pending) {
      const length = payloads.reduce((sum, data) => sum + data.length, 0)
      const head = Buffer.from(`*3\r\n$7\r\nPUBLISH\r\n$${Buffer.byteLength(channel(to))}\r\n${channel(to)}\r\n$${length}\r\n`)
      command.write(Buffer.concat([head, ...payloads, Buffer.from('\r\n')]))
    }
    pending.clear()
  }
  return {
    async start(handlers) {
      command = await open()
      command.on('data', () => {})
      const subscriber = await open()
      const delivery = [{ clientId: 'subscriber', qos: 1, retain: false }]
      subscriber.on('data', pushReader((data) => {
        for (let n = data.length / payload.length; n > 0; n--) handlers.deliver(null, delivery)
      }))
      subscriber.write(`*2\r\n$9\r\nSUBSCRIBE\r\n$${Buffer.byteLength(channel(nodeId))}\r\n${channel(nodeId)}\r\n`)
      await once(subscriber, 'data')
    },
    forward(to, message) {
      if (pending.size === 0) setImmediate(flush)
      const payloads = pending.get(to) ?? []
      payloads.push(message.payload)
      pending.set(to, payloads)
    },
    async stop() {
      for (const socket of sockets) socket.destroy()
    },
  }
}

const silent = { deliver() {}, subscriptionAdded() {}, subscriptionRemoved() {}, release: async () => {}, nodeDown() {} }

async function measureOnce(root, run) {
  const createNode =
    root === 'floor'
      ? ({ url, nodeId, prefix }) => floorNode(url, nodeId, prefix)
      : (await import(pathToFileURL(join(root, 'packages/cluster-redis/dist/index.js')).href)).createRedisCluster
  const workDir = mkdtempSync(join(tmpdir(), 'wren-bus-bench-'))
  const redis = await redisStore({ workDir })
  const prefix = `bench${run}:`
  const a = createNode({ url: redis.storeSpec, nodeId: 'a', prefix })
  const receivers = targets.map((nodeId) => createNode({ url: redis.storeSpec, nodeId, prefix }))
  let received = 0
  let wake = null
  await a.start(silent)
  for (const receiver of receivers) {
    await receiver.start({
      ...silent,
      deliver(_message, deliveries) {
        received += deliveries.length
        if (wake && received >= wake.at) wake.resolve()
      },
    })
  }
  const until = (at) => (received >= at ? null : new Promise((resolve) => (wake = { at, resolve })))
  try {
    const deliveries = targets.map((nodeId) => [{ clientId: `subscriber-on-${nodeId}`, qos: 1, retain: false }])
    const forwards = messages * targets.length
    const cpu = process.cpuUsage()
    const redisCpu = cpuMicros(redis.pid)
    const publishes = publishCount(redis.storeSpec)
    const started = performance.now()
    for (let sent = 0; sent < messages; ) {
      for (let i = 0; i < batch && sent < messages; i++, sent++) {
        const message = { id: `m${sent}`, topic: `sensors/${sent % 100}/temperature`, payload, qos: 1, retain: false, origin: `publisher-${sent % 20}` }
        targets.forEach((nodeId, t) => a.forward(nodeId, message, deliveries[t]))
      }
      await (until((sent - window + 1) * targets.length) ?? new Promise((resolve) => setImmediate(resolve)))
    }
    await until(forwards)
    const seconds = (performance.now() - started) / 1000
    const used = process.cpuUsage(cpu)
    return {
      busCpuUsPerMsg: (used.user + used.system) / forwards,
      busKernelUsPerMsg: used.system / forwards,
      redisCpuUsPerMsg: (cpuMicros(redis.pid) - redisCpu) / forwards,
      msgsPerSec: forwards / seconds,
      forwardsPerPublish: forwards / (publishCount(redis.storeSpec) - publishes),
    }
  } finally {
    await Promise.all([a, ...receivers].map((bus) => bus.stop()))
    await redis.stop()
    rmSync(workDir, { recursive: true, force: true })
  }
}

const results = new Map(builds.map((root) => [root, []]))
for (let run = 1; run <= runs; run++) {
  for (const root of run % 2 ? builds : [...builds].reverse()) results.get(root).push(await measureOnce(root, run))
}
console.log(`${messages} messages of ${payload.length} bytes, each forwarded to ${targets.length} node(s), ${batch} messages per tick, at most ${window} on their way, ${runs} runs (medians)`)
console.log('| build | forwards/s | forwards per PUBLISH | bus CPU µs/forward (sender and receivers) | of it in the kernel | redis-server CPU µs/forward | forwards/s one Redis core carries |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const [root, figures] of results) {
  const m = (key) => median(figures.map((f) => f[key]))
  const redisUs = m('redisCpuUsPerMsg')
  console.log(`| ${root} | ${Math.round(m('msgsPerSec')).toLocaleString('en')} | ${m('forwardsPerPublish').toFixed(1)} | ${m('busCpuUsPerMsg').toFixed(2)} | ${m('busKernelUsPerMsg').toFixed(2)} | ${redisUs.toFixed(2)} | ${Math.round(1e6 / redisUs).toLocaleString('en')} |`)
}

#!/usr/bin/env node
// What a persistence adapter costs per persisted QoS 1 message in a fan-in's pattern, without a broker: each
// turn of the event loop enqueues 20 messages (64-byte payloads unless told) for one client, then marks each one
// sent and acks it, as the broker does for a connected persistent subscriber. Prints CPU and wall time per message.
// With a depth, the pattern of a connected subscriber's live queue that deep: each turn enqueues 20 messages
// without a bound (as the broker does for a subscriber that holds its publishers) and marks sent and acks the
// 20 that are `depth` messages older.
// Usage: node benchmarks/persistence-ops.js [memory|sqlite|sqlite-full|redis] [messages] [depth, or - for none] [payload bytes]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createMemoryPersistence } from '@wren/core'
import { redisStore } from './lib/brokers.js'
import { cpuMicros } from './lib/proc-stats.js'

const PER_TURN = 20
const [store = 'sqlite', count = '20000', depthArg, payloadArg = '64'] = process.argv.slice(2)
const messages = Number(count)
const depth = depthArg === undefined || depthArg === '-' ? null : Number(depthArg)
const workDir = mkdtempSync(join(tmpdir(), 'wren-ops-'))

async function open() {
  if (store === 'memory') return { persistence: createMemoryPersistence(), stop: async () => {} }
  if (store === 'sqlite' || store === 'sqlite-full') {
    const { createSqlitePersistence } = await import('@wren/persistence-sqlite')
    const synchronous = store === 'sqlite-full' ? 'full' : 'normal'
    return { persistence: createSqlitePersistence({ path: join(workDir, 'ops.db'), synchronous }), stop: async () => {} }
  }
  if (store === 'redis') {
    const { createRedisPersistence } = await import('@wren/persistence-redis')
    const redis = await redisStore({ workDir })
    return { persistence: createRedisPersistence({ url: redis.storeSpec }), stop: redis.stop, servicePid: redis.pid }
  }
  throw new Error(`unknown store ${store}: memory, sqlite, sqlite-full or redis`)
}

const { persistence, stop, servicePid } = await open()
const payload = Buffer.alloc(Number(payloadArg), 0x61)
const target = [{ clientId: 'subscriber', qos: 1 }]
const deliver = async (message, packetId) => {
  await persistence.outboundEnqueue(target, message, 1_000_000)
  persistence.outboundSent('subscriber', message.id, packetId)
  await persistence.outboundAck('subscriber', packetId)
}
const message = (i) => ({ id: `m${i}`, topic: `bench/ops/${i % PER_TURN}`, payload, qos: 1, retain: false })
const packetId = (i) => (i % 65_535) + 1
const cpuStart = process.cpuUsage()
const serviceStart = servicePid === undefined ? 0 : cpuMicros(servicePid)
const wallStart = performance.now()
if (depth === null) {
  for (let sent = 0; sent < messages; sent += PER_TURN) {
    const turn = []
    for (let i = sent; i < sent + PER_TURN; i++) turn.push(deliver(message(i), packetId(i)))
    await Promise.all(turn)
  }
} else {
  for (let first = 0; first < messages + depth; first += PER_TURN) {
    const turn = []
    for (let i = first; i < first + PER_TURN; i++) {
      if (i < messages) turn.push(persistence.outboundEnqueue(target, message(i)))
      const old = i - depth
      if (old < 0 || old >= messages) continue
      turn.push(persistence.outboundSent('subscriber', `m${old}`, packetId(old)))
      turn.push(persistence.outboundAck('subscriber', packetId(old)))
    }
    await Promise.all(turn)
  }
}
const cpu = process.cpuUsage(cpuStart)
const wallMs = performance.now() - wallStart
const service = servicePid === undefined ? '' : `, redis-server ${((cpuMicros(servicePid) - serviceStart) / messages).toFixed(1)} µs CPU`
console.log(
  `${store}: ${((cpu.user + cpu.system) / messages).toFixed(1)} µs CPU and ${((wallMs * 1000) / messages).toFixed(1)} µs wall per message${service} ` +
    `(${messages} messages of ${payload.length} bytes, ${PER_TURN} per turn${depth === null ? '' : `, live queue ${depth} deep`})`,
)
await persistence.close()
await stop()
rmSync(workDir, { recursive: true, force: true })

#!/usr/bin/env node
// What a persistence adapter costs per persisted QoS 1 message in a fan-in's pattern, without a broker: each
// turn of the event loop enqueues 20 messages (64-byte payloads) for one client, then marks each one sent and
// acks it, as the broker does for a connected persistent subscriber. Prints CPU and wall time per message.
// Usage: node benchmarks/persistence-ops.js [memory|sqlite|sqlite-full|redis] [messages]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createMemoryPersistence } from '@wren/core'
import { redisStore } from './lib/brokers.js'
import { cpuMicros } from './lib/proc-stats.js'

const PER_TURN = 20
const [store = 'sqlite', count = '20000'] = process.argv.slice(2)
const messages = Number(count)
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
const payload = Buffer.alloc(64, 0x61)
const target = [{ clientId: 'subscriber', qos: 1 }]
const deliver = async (message, packetId) => {
  await persistence.outboundEnqueue(target, message, 1_000_000)
  persistence.outboundSent('subscriber', message.id, packetId)
  await persistence.outboundAck('subscriber', packetId)
}
const cpuStart = process.cpuUsage()
const serviceStart = servicePid === undefined ? 0 : cpuMicros(servicePid)
const wallStart = performance.now()
for (let sent = 0; sent < messages; sent += PER_TURN) {
  const turn = []
  for (let i = sent; i < sent + PER_TURN; i++) {
    turn.push(deliver({ id: `m${i}`, topic: `bench/ops/${i % PER_TURN}`, payload, qos: 1, retain: false }, (i % 65_535) + 1))
  }
  await Promise.all(turn)
}
const cpu = process.cpuUsage(cpuStart)
const wallMs = performance.now() - wallStart
const service = servicePid === undefined ? '' : `, redis-server ${((cpuMicros(servicePid) - serviceStart) / messages).toFixed(1)} µs CPU`
console.log(
  `${store}: ${((cpu.user + cpu.system) / messages).toFixed(1)} µs CPU and ${((wallMs * 1000) / messages).toFixed(1)} µs wall per message${service} ` +
    `(${messages} messages, ${PER_TURN} per turn)`,
)
await persistence.close()
await stop()
rmSync(workDir, { recursive: true, force: true })

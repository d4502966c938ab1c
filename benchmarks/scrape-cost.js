#!/usr/bin/env node
// What one Prometheus scrape (and one GET /api/v1/stats overview) costs with many stored sessions: stores
// `sessions` offline persistent sessions (each with one subscription and `queued` queued messages) in a
// throwaway redis-server, starts a broker on that store, and times scrapes. The scrape should not grow
// with the number of stored sessions.
// Usage: node benchmarks/scrape-cost.js [sessions] [queued per session] [scrapes]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createBroker } from '@wren/core'
import { createMetrics } from '@wren/observability'
import { createRedisPersistence } from '@wren/persistence-redis'
import { redisStore } from './lib/brokers.js'

const [sessionsArg = '10000', queuedArg = '1', scrapesArg = '50'] = process.argv.slice(2)
const sessions = Number(sessionsArg)
const queued = Number(queuedArg)
const scrapes = Number(scrapesArg)
const workDir = mkdtempSync(join(tmpdir(), 'wren-scrape-'))
const redis = await redisStore({ workDir })

const seed = createRedisPersistence({ url: redis.storeSpec })
const payload = Buffer.alloc(100, 0x61)
const now = Date.now()
for (let start = 0; start < sessions; start += 500) {
  const batch = []
  for (let i = start; i < Math.min(sessions, start + 500); i++) {
    const clientId = `sensor-${i}`
    batch.push(seed.sessionSave({ clientId, protocolVersion: 4, expiryInterval: 86_400, disconnectedAt: now, brokerId: 'seed' }))
    batch.push(seed.subscriptionsAdd(clientId, [{ filter: `cmd/${i}`, qos: 1 }]))
    for (let q = 0; q < queued; q++) batch.push(seed.outboundEnqueue([{ clientId, qos: 1 }], { id: `m${i}-${q}`, topic: `cmd/${i}`, payload, qos: 1, retain: false }))
  }
  await Promise.all(batch)
}
await seed.close()

const startedAt = performance.now()
const broker = createBroker({ persistence: createRedisPersistence({ url: redis.storeSpec }), sysInterval: 0 })
await broker.ready()
const readyMs = performance.now() - startedAt
const metrics = createMetrics(broker, { defaultMetrics: false })

async function time(what, run) {
  const samples = []
  for (let i = 0; i < scrapes; i++) {
    const t = performance.now()
    await run()
    samples.push(performance.now() - t)
    // Past the metrics' 250 ms cache of the gauges: every scrape reads them anew.
    await new Promise((resolve) => setTimeout(resolve, 260))
  }
  samples.sort((a, b) => a - b)
  const median = samples[Math.floor(samples.length / 2)]
  const p90 = samples[Math.floor(samples.length * 0.9)]
  console.log(`${what}: median ${median.toFixed(2)} ms, p90 ${p90.toFixed(2)} ms (${scrapes} runs)`)
}

console.log(`${sessions} stored offline sessions, ${queued} queued message(s) each; broker ready in ${readyMs.toFixed(0)} ms`)
const text = await metrics.metrics()
console.log(text.split('\n').filter((line) => /^wren_(sessions|offline)/.test(line)).join('\n'))
await time('scrape (/metrics)', () => metrics.metrics())
await time('gauges (/api/v1/stats)', () => broker.admin.gauges())
const { sessionsOffline, offlineQueuedMessages, offlineQueuedBytes } = await broker.admin.gauges()
console.log(`afterwards: ${sessionsOffline} offline sessions, ${offlineQueuedMessages} queued messages, ${offlineQueuedBytes} bytes`)
await broker.close()
await redis.stop()
rmSync(workDir, { recursive: true, force: true })

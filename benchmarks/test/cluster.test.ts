// The cluster brokers end to end on a tiny bounded load: the server in workers mode on a harness-started
// redis-server, measured as one process tree. No timing assertions.
import { beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt } from '../../packages/core/test/helpers/built.js'
import { BROKERS } from '../lib/brokers.js'
import { measure } from '../lib/harness.js'
import { processTree } from '../lib/proc-stats.js'
import { allVariants } from '../lib/scenarios.js'

const twoWorkers = BROKERS.find((b) => b.name === 'wren-cluster-2')!

function tinyFanIn(qos: 0 | 1) {
  const variant = allVariants('quick').find((v) => v.id === `fan-in-qos${qos}`)!
  // 20 publishers x 15 messages = 300 deliveries, bounded at 10 s.
  return { ...variant, job: { ...variant.job, messagesPerPublisher: 15, idleMs: 1_000, timeoutMs: 10_000 } }
}

describe('cluster brokers', () => {
  beforeAll(() => assertBuilt('server', 'cluster-redis'))

  it('finds the built server, cluster bus and redis-server', () => {
    expect(twoWorkers.isInstalled(), 'build it first: pnpm --filter @wren/server... build').toBe(true)
  })

  it('counts a process and its descendants', () => {
    expect(processTree(process.pid)[0]).toBe(process.pid)
    expect(processTree(1)).toContain(process.pid)
  })

  it('runs a tiny fan-in across two workers at QoS 0 and QoS 1 without loss', { timeout: 60_000 }, async () => {
    for (const qos of [0, 1] as const) {
      const record = await measure({ broker: twoWorkers, variant: tinyFanIn(qos), run: 1 })
      expect(record.error).toBeUndefined()
      expect(record).toMatchObject({ broker: 'wren-cluster-2', expected: 300, delivered: 300, lossPct: 0, timedOut: false })
      // 300 messages may take less than one 10 ms clock tick of CPU.
      expect(record.brokerCpuUs).toBeGreaterThanOrEqual(0)
      // The primary and two workers, each a Node process of a few tens of MiB.
      expect(record.brokerPeakRssMiB).toBeGreaterThan(60)
    }
  })
})

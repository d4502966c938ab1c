// Scenario 7 end to end on a tiny bounded load: a real Wren broker process on a SQLite file in a temp dir,
// a real generator process, a persistent subscriber that is connected, then offline, then back. No timing
// assertions: this machine's speed is not the subject.
import { beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt } from '../../packages/core/test/helpers/built.js'
import { BROKERS, runsVariant } from '../lib/brokers.js'
import { measure } from '../lib/harness.js'
import { renderCharts, renderMarkdown, summarize } from '../lib/report.js'
import { allVariants } from '../lib/scenarios.js'

const byName = (name: string) => BROKERS.find((b) => b.name === name)!
const wren = byName('wren')
const wrenSqlite = byName('wren-sqlite')

function tinyPersistent() {
  const variant = allVariants('quick').find((v) => v.id === 'persistent-qos1')!
  // 20 publishers x (10 live + 5 backlog) = 200 live deliveries and a backlog of 100, each phase bounded at 10 s.
  return {
    ...variant,
    job: { ...variant.job, messagesPerPublisher: 10, backlogPerPublisher: 5, idleMs: 1_000, phaseTimeoutMs: 10_000, timeoutMs: 40_000 },
  }
}

describe('scenario 7, persistent QoS 1', () => {
  beforeAll(() => assertBuilt('persistence-sqlite'))

  it('runs on the store variants only, and on every base broker', () => {
    const variants = allVariants('full')
    const persistent = variants.find((v) => v.scenario === 'persistent')!
    const fanIn = variants.find((v) => v.scenario === 'fan-in')!
    expect(BROKERS.filter((b) => runsVariant(b, persistent)).map((b) => b.name)).toEqual([
      'wren',
      'wren-base',
      'wren-base-sqlite',
      'wren-base-redis',
      'aedes',
      'mosquitto',
      'wren-sqlite',
      'wren-redis',
      'aedes-redis',
      'mosquitto-persist',
      'wren-young4',
      'wren-server',
    ])
    expect(BROKERS.filter((b) => runsVariant(b, fanIn)).map((b) => b.name)).toEqual([
      'wren',
      'wren-base',
      'aedes',
      'mosquitto',
      'wren-metrics',
      'wren-young4',
      'wren-server',
      'wren-cluster-1',
      'wren-cluster-2',
    ])
  })

  it('measures the live phase and the backlog through Wren on SQLite', async () => {
    expect(wrenSqlite.isInstalled(), 'build it first: pnpm --filter @wren/persistence-sqlite... build').toBe(true)
    const variant = tinyPersistent()
    const record = await measure({ broker: wrenSqlite, variant, run: 1 })
    expect(record.error).toBeUndefined()
    expect(record).toMatchObject({
      broker: 'wren-sqlite',
      expected: 200,
      delivered: 200,
      lossPct: 0,
      backlogExpected: 100,
      backlogDrained: 100,
      backlogLossPct: 0,
      timedOut: false,
    })
    for (const key of ['msgsPerSec', 'backlogStorePerSec', 'backlogDrainPerSec', 'brokerCpuUsPerMsg']) {
      expect(record[key as keyof typeof record], key).toBeGreaterThan(0)
    }

    // The report puts the store variants in a table of their own, with ratios to Wren in memory.
    const memory = { ...record, broker: 'wren', msgsPerSec: record.msgsPerSec * 2 }
    const summary = summarize([record, memory], [variant], ['wren', 'wren-sqlite'])
    const brokers = [wren, wrenSqlite]
    const charts = renderCharts(summary, [variant], brokers)
    expect(charts.map((c) => c.file)).toEqual(['throughput-persistent.svg'])
    const markdown = renderMarkdown({
      meta: {
        date: 'now',
        profile: 'quick',
        runs: 1,
        machine: { cpu: 'test', cores: 1, memoryGiB: 1, os: 'test' },
        node: process.version,
        versions: { wren: 'test', 'wren-sqlite': 'test' },
        loadAverage: { start: '0', end: '0', highest1m: '0' },
      },
      summary,
      variants: [variant],
      brokers,
      skipped: [],
      charts,
    })
    expect(markdown).toContain('| Wren SQLite | SQLite file |')
    expect(markdown).toMatch(/\| Wren SQLite \| SQLite file \| 0\.50× \|/)
  })
})

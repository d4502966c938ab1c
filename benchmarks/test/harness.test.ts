// Proves the harness end to end on a tiny bounded load: a real Wren broker process (from @wren/core's built
// dist), a real generator process, /proc figures and the report. No timing assertions: this machine's speed
// is not the subject.
import { beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt } from '../../packages/core/test/helpers/built.js'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { BROKERS, runsVariant, YOUNG_GENERATION_FLAG } from '../lib/brokers.js'
import { measure } from '../lib/harness.js'
import { renderCharts, renderMarkdown, summarize } from '../lib/report.js'
import { allVariants } from '../lib/scenarios.js'

const wren = BROKERS.find((b) => b.name === 'wren')!

function tinyFanIn(qos: 0 | 1) {
  const variant = allVariants('quick').find((v) => v.id === `fan-in-qos${qos}`)!
  // 20 publishers x 15 messages = 300 deliveries, bounded at 10 s.
  return { ...variant, job: { ...variant.job, messagesPerPublisher: 15, idleMs: 1_000, timeoutMs: 10_000 } }
}

describe('benchmark harness against Wren', () => {
  beforeAll(() => assertBuilt('core'))

  it('finds the built broker', () => {
    expect(wren.isInstalled(), 'build it first: pnpm --filter @wren/core build').toBe(true)
  })

  it('measures the young-generation cap that pnpm start gives the server', () => {
    const start = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).scripts.start as string
    expect(start).toContain(`node ${YOUNG_GENERATION_FLAG} packages/server/dist/cli.js`)
    expect(BROKERS.find((b) => b.name === 'wren-young4')!.argv({ port: 1, nodeFlags: [] })).toContain(YOUNG_GENERATION_FLAG)
  })

  it('runs a tiny fan-in at QoS 0 and QoS 1 and reports every figure', async () => {
    const variants = [tinyFanIn(0), tinyFanIn(1)]
    const measurements = []
    for (const variant of variants) {
      const record = await measure({ broker: wren, variant, run: 1 })
      expect(record.error).toBeUndefined()
      expect(record).toMatchObject({ broker: 'wren', expected: 300, delivered: 300, lossPct: 0, timedOut: false })
      expect(record.msgsPerSec).toBeGreaterThan(0)
      expect(record.brokerCpuUs).toBeGreaterThanOrEqual(0)
      expect(record.generatorCpuPct).toBeGreaterThan(0)
      expect(record.brokerPeakRssMiB).toBeGreaterThan(1)
      measurements.push(record)
    }

    const summary = summarize(measurements, variants, ['wren'])
    expect(summary['fan-in-qos1'].wren.figures.msgsPerSec).toBe(measurements[1].msgsPerSec)
    const charts = renderCharts(summary, variants, [wren])
    expect(charts.map((c) => c.file)).toEqual(['throughput-fan-in.svg'])
    expect(charts[0].svg).toMatch(/^<svg[\s\S]*<\/svg>\n$/)
    const markdown = renderMarkdown({
      meta: {
        date: 'now',
        profile: 'quick',
        runs: 1,
        machine: { cpu: 'test', cores: 1, memoryGiB: 1, os: 'test' },
        node: process.version,
        versions: { wren: 'test' },
        loadAverage: { start: '0', end: '0', highest1m: '0' },
      },
      summary,
      variants,
      brokers: [wren],
      skipped: [],
      charts,
    })
    expect(markdown).toContain('| delivered msgs/s ↑ |')
    expect(markdown).toContain('![fan-in](throughput-fan-in.svg)')
  })

  it('runs a payload variant over MQTT 5, and leaves Aedes (3.1.1 only) out of it', async () => {
    const variant = allVariants('quick').find((v) => v.id === 'payload-64KiB-v5-qos1')!
    // 4 publishers x 3 messages of 64 KiB, bounded at 10 s.
    const tiny = { ...variant, job: { ...variant.job, messagesPerPublisher: 3, idleMs: 1_000, timeoutMs: 10_000 } }
    const record = await measure({ broker: wren, variant: tiny, run: 1 })
    expect(record.error).toBeUndefined()
    expect(record).toMatchObject({ expected: 12, delivered: 12, lossPct: 0, timedOut: false })
    expect(runsVariant(BROKERS.find((b) => b.name === 'aedes')!, variant)).toBe(false)
  })

  it('times only the latency window: the warm-up before it is sent and delivered but not counted', async () => {
    const variant = allVariants('quick').find((v) => v.scenario === 'latency')!
    expect(variant.job.warmUpMs).toBeGreaterThan(0)
    // 100 warm-up and 200 measured messages at 1,000 msgs/s, bounded by the job's drain.
    const tiny = { ...variant, job: { ...variant.job, ratePerSec: 1_000, warmUpMs: 100, durationMs: 200, drainMs: 5_000 } }
    const record = await measure({ broker: wren, variant: tiny, run: 1 })
    expect(record.error).toBeUndefined()
    expect(record).toMatchObject({ expected: 200, delivered: 200, lossPct: 0, timedOut: false })
    expect(record.p999Us).toBeGreaterThan(0)
    // The report gives p99.9's median and its best and worst run.
    const worse = { ...record, run: 2, p999Us: record.p999Us * 3 }
    const { figures } = summarize([record, worse], [tiny], ['wren'])[tiny.id].wren
    expect(figures).toMatchObject({ p999Us: record.p999Us * 2, p999MinUs: record.p999Us, p999MaxUs: record.p999Us * 3 })
  })

  it.skipIf(spawnSync('chrt', ['-f', '10', 'true']).status !== 0)('runs a latency variant with broker and generator in the real-time class', async () => {
    const variant = allVariants('quick').find((v) => v.scenario === 'latency')!
    const tiny = { ...variant, job: { ...variant.job, ratePerSec: 1_000, warmUpMs: 100, durationMs: 200, drainMs: 5_000 } }
    const record = await measure({ broker: wren, variant: tiny, run: 1, realtime: true })
    expect(record.error).toBeUndefined()
    expect(record).toMatchObject({ expected: 200, delivered: 200, lossPct: 0 })
  })

  it('runs the broker with its metrics read every second (wren-metrics)', async () => {
    const withMetrics = BROKERS.find((b) => b.name === 'wren-metrics')!
    expect(withMetrics.isInstalled(), 'build it first: pnpm --filter @wren/observability... build').toBe(true)
    const record = await measure({ broker: withMetrics, variant: tinyFanIn(1), run: 1 })
    expect(record.error).toBeUndefined()
    expect(record).toMatchObject({ broker: 'wren-metrics', expected: 300, delivered: 300, lossPct: 0, timedOut: false })
  })
})

/** `id` from the quick profile with `clients` clients instead of thousands. */
function tinyConnections(id: string, clients: number) {
  const variant = allVariants('quick').find((v) => v.id === id)!
  const passwords = variant.job.passwordUsers ? { passwordUsers: clients } : {}
  return { ...variant, job: { ...variant.job, ...passwords, clients, timeoutMs: 10_000 } }
}

describe('connection variants: TLS, WebSocket and a password file', () => {
  const mosquitto = BROKERS.find((b) => b.name === 'mosquitto')!

  it.each(['connections-tls', 'connections-ws'])('holds idle Wren clients over %s', async (id) => {
    const record = await measure({ broker: wren, variant: tinyConnections(id, 20), run: 1 })
    expect(record.error).toBeUndefined()
    expect(record).toMatchObject({ clients: 20 })
    expect(record.brokerCpuUsPerConnect).toBeGreaterThan(0)
  })

  it('counts the handshakes the kernel dropped for a full listen backlog in a connect storm', async () => {
    const record = await measure({ broker: wren, variant: tinyConnections('connect-storm', 20), run: 1 })
    expect(record.error).toBeUndefined()
    expect(record).toMatchObject({ clients: 20 })
    expect(record.listenOverflows).toBeGreaterThanOrEqual(0)
  })

  it('gives Mosquitto the certificate, and leaves it out of WebSocket (built without libwebsockets here)', async () => {
    const record = await measure({ broker: mosquitto, variant: tinyConnections('connections-tls', 20), run: 1 })
    expect(record.error).toBeUndefined()
    expect(record).toMatchObject({ clients: 20 })
    expect(runsVariant(mosquitto, tinyConnections('connections-ws', 20))).toBe(false)
  })

  it.each(['connections', 'connections-tls', 'connections-ws'])('holds idle clients on the Node floor over %s, and takes part in no flow scenario', async (id) => {
    const floor = BROKERS.find((b) => b.name === 'node-floor')!
    const record = await measure({ broker: floor, variant: tinyConnections(id, 20), run: 1 })
    expect(record.error).toBeUndefined()
    expect(record).toMatchObject({ clients: 20 })
    expect(runsVariant(floor, allVariants('quick').find((v) => v.scenario === 'fan-in')!)).toBe(false)
  })

  it.each(['wren', 'mosquitto'])('logs every user of the password file in on %s, then reconnects all at once', async (name) => {
    const broker = BROKERS.find((b) => b.name === name)!
    const record = await measure({ broker, variant: tinyConnections('reconnect-storm-password', 30), run: 1 })
    expect(record.error).toBeUndefined()
    expect(record).toMatchObject({ clients: 30, refusedConnects: 0, firstWaveRefused: 0 })
  })

  it('leaves Aedes out of the password storm: the harness gives it no password file', () => {
    expect(runsVariant(BROKERS.find((b) => b.name === 'aedes')!, tinyConnections('reconnect-storm-password', 30))).toBe(false)
  })
})

describe('the generator framer', () => {
  it('frames packets however the stream splits them', async () => {
    const { PacketFramer, encodePublish } = await import('../generator/wire.js')
    const packets = [
      encodePublish({ topic: 'a/b', payload: Buffer.alloc(3, 1), qos: 0 }).bytes,
      encodePublish({ topic: 'big', payload: Buffer.alloc(70_000, 2), qos: 1, messageId: 7 }).bytes,
      Buffer.from([0x40, 0x02, 0x00, 0x07]),
    ]
    const stream = Buffer.concat(packets)
    for (const cut of [1, 2, 3, 5, 1000, stream.length]) {
      const seen: Array<[number, number]> = []
      const framer = new PacketFramer((type: number, _flags: number, _buffer: Buffer, start: number, end: number) =>
        seen.push([type, end - start]),
      )
      for (let at = 0; at < stream.length; at += cut) framer.push(stream.subarray(at, at + cut))
      // [packet type, body length]: topic length prefix + topic (+ packet id) + payload.
      expect(seen).toEqual([
        [3, 2 + 3 + 3],
        [3, 2 + 3 + 2 + 70_000],
        [4, 2],
      ])
    }
  })
})

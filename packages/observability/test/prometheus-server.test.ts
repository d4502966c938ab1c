import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { freePort } from '../../persistence-redis/test/redis-server.js'
import { connectClient } from '../../core/test/helpers/clients.js'
import { startBroker } from '../../core/test/helpers/start-broker.js'
import { startAdminServer } from './helpers/admin-server.js'

const TOKEN = 'scrape-token'

interface PrometheusServer {
  url: string
  /** Prometheus' HTTP API: the `data` of a successful answer. */
  api<T>(path: string): Promise<T>
}

/** Starts Debian's `prometheus` on a free loopback port with a temporary config and store; stopped after the test. */
async function startPrometheus(config: string): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'wren-prometheus-'))
  await writeFile(join(dir, 'prometheus.yml'), config)
  const port = await freePort()
  const child = spawn('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)))
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  onTestFinished(async () => {
    child.kill('SIGTERM')
    await exited
    await rm(dir, { recursive: true, force: true })
  })
  const url = `http://127.0.0.1:${port}`
  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(url + path)
    const body = (await response.json()) as { status: string; data: T }
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${JSON.stringify(body)}`)
    return body.data
  }
  // Ready when its HTTP API answers (bounded: it starts in well under a minute even on a busy machine).
  const deadline = Date.now() + 60_000
  for (;;) {
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)
    if (ready) break
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`prometheus did not start:\n${log}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { url, api }
}

interface Target {
  health: string
  lastError: string
  scrapeUrl: string
}

describe('a real Prometheus server scraping the metrics', () => {
  it('scrapes /metrics with the bearer token and sees the broker clients', async () => {
    const b = await startBroker({ sysInterval: 0 })
    const admin = await startAdminServer({ broker: b.broker, token: TOKEN })
    await connectClient(b.url)
    await connectClient(b.url)
    const prometheus = await startPrometheus(
      [
        'global:',
        '  scrape_interval: 1s',
        'scrape_configs:',
        '  - job_name: wren',
        '    authorization:',
        `      credentials: ${TOKEN}`,
        '    static_configs:',
        `      - targets: ['${new URL(admin.url).host}']`,
        '',
      ].join('\n'),
    )
    // Waits for the event "target scraped and up", reading Prometheus' own API; bounded in count and time.
    let target: Target | undefined
    const deadline = Date.now() + 60_000
    while (target?.health !== 'up') {
      if (Date.now() > deadline) throw new Error(`target never up: ${JSON.stringify(target)}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
      target = (await prometheus.api<{ activeTargets: Target[] }>('/api/v1/targets')).activeTargets[0]
    }
    expect(target.scrapeUrl).toBe(`${admin.url}/metrics`)
    expect(target.lastError).toBe('')
    const result = await prometheus.api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(
      `/api/v1/query?query=${encodeURIComponent('wren_clients_connected')}`,
    )
    expect(result.result).toHaveLength(1)
    expect(result.result[0]?.value[1]).toBe('2')
    const dropped = await prometheus.api<{ result: Array<{ metric: Record<string, string> }> }>(
      `/api/v1/query?query=${encodeURIComponent('wren_messages_dropped_total')}`,
    )
    expect(dropped.result.map((r) => r.metric.reason).sort()).toEqual(['expired', 'no_subscribers', 'not_authorized', 'queue_full', 'slow_consumer', 'too_large'])

    // Every query of the Grafana dashboard in the docs is valid PromQL over these metrics.
    const dashboard = JSON.parse(await readFile(new URL('../../../docs/grafana/wren-dashboard.json', import.meta.url), 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>
    }
    for (const panel of dashboard.panels) {
      for (const { expr } of panel.targets) {
        const query = expr.replaceAll('$__rate_interval', '1m').replaceAll('$job', 'wren')
        await expect(prometheus.api(`/api/v1/query?query=${encodeURIComponent(query)}`), panel.title).resolves.toBeDefined()
      }
    }
  }, 120_000)
})

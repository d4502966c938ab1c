import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import type { Broker } from '@wren/core'

/** What the dashboard's overview shows, and `GET /api/v1/stats` answers. Totals only: rates are the reader's job. */
export interface Overview {
  node: string
  /** Epoch ms this snapshot was taken. */
  at: number
  uptimeSeconds: number
  clients: { connected: number; maximum: number; total: number }
  sessions: { online: number; offline: number }
  subscriptions: number
  sharedSubscriptions: number
  retainedMessages: number
  queuedMessages: number
  inflightMessages: number
  /** What waits in the store for the offline sessions this broker holds. */
  offlineQueued: { messages: number; bytes: number }
  messages: { received: number; sent: number; dropped: number }
  bytes: { received: number; sent: number }
  memory: { rss: number; heapUsed: number; heapTotal: number }
  /** Event-loop delay over the last interval, in milliseconds. */
  eventLoopLag: { mean: number; p99: number; max: number }
}

/** Takes overviews of one broker, measuring the event-loop delay between two of them. */
export class OverviewSource {
  private readonly loop: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 })

  constructor(private readonly broker: Broker) {
    this.loop.enable()
  }

  async take(): Promise<Overview> {
    const { broker, loop } = this
    const stats = broker.stats
    const gauges = await broker.admin.gauges()
    const memory = process.memoryUsage()
    const dropped = Object.values(stats.dropped).reduce((sum, count) => sum + count, 0)
    const lag = { mean: loop.mean / 1e6 || 0, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 }
    loop.reset()
    return {
      node: broker.id,
      at: Date.now(),
      uptimeSeconds: Math.floor((Date.now() - stats.startedAt) / 1000),
      clients: { connected: stats.clientsConnected, maximum: stats.clientsMaximum, total: stats.clientsTotal },
      sessions: { online: gauges.sessionsOnline, offline: gauges.sessionsOffline },
      subscriptions: gauges.subscriptions,
      sharedSubscriptions: gauges.sharedSubscriptions,
      retainedMessages: gauges.retainedMessages,
      queuedMessages: gauges.queuedMessages,
      inflightMessages: gauges.inflightMessages,
      offlineQueued: { messages: gauges.offlineQueuedMessages, bytes: gauges.offlineQueuedBytes },
      messages: { received: stats.publishReceived, sent: stats.publishSent, dropped },
      bytes: { received: stats.bytesReceived, sent: stats.bytesSent },
      memory: { rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal },
      eventLoopLag: lag,
    }
  }

  close(): void {
    this.loop.disable()
  }
}

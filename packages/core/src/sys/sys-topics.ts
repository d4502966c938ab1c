import type { BrokerContext } from '../context.js'
import { reportStoreError } from '../core.js'
import { VERSION } from '../version.js'

/**
 * Publishes `$SYS/broker/...` every `sysInterval` seconds, with Mosquitto's topic names where it has one,
 * so existing dashboards keep working. Values are retained, as Mosquitto does. In a cluster each node's own
 * values go under `$SYS/brokers/<node id>/...` (retained values of one topic would overwrite each other);
 * the cluster-wide ones stay under `$SYS/broker/cluster/...`.
 */
export class SysTopics {
  private timer: NodeJS.Timeout | null = null

  constructor(private readonly ctx: BrokerContext) {}

  start(): void {
    const interval = this.ctx.options.sysInterval
    if (interval <= 0) return
    this.publishAll()
    this.timer = setInterval(() => this.publishAll(), interval * 1000)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  private publish(topic: string, value: string | number): void {
    this.ctx.distributor.route({ topic, payload: Buffer.from(String(value)), qos: 0, retain: true }, null)?.catch((error: unknown) => reportStoreError(this.ctx, error))
  }

  private publishAll(): void {
    const { stats, router } = this.ctx
    void this.ctx.persistence.retainedCount().then(
      (retained) => {
        const values: Array<[string, string | number]> = [
          ['version', `wren ${VERSION}`],
          ['uptime', `${Math.floor((Date.now() - stats.startedAt) / 1000)} seconds`],
          ['clients/connected', stats.clientsConnected],
          ['clients/total', stats.clientsTotal],
          ['clients/maximum', stats.clientsMaximum],
          ['messages/received', stats.messagesReceived],
          ['messages/sent', stats.messagesSent],
          ['messages/dropped', stats.messagesDropped],
          ['publish/messages/received', stats.publishReceived],
          ['publish/messages/sent', stats.publishSent],
          ['bytes/received', stats.bytesReceived],
          ['bytes/sent', stats.bytesSent],
          ['subscriptions/count', router.size],
          ['retained messages/count', retained],
          ['heap/used', process.memoryUsage().heapUsed],
        ]
        const cluster = this.ctx.cluster
        const prefix = cluster ? `$SYS/brokers/${this.ctx.id}/` : '$SYS/broker/'
        for (const [name, value] of values) this.publish(prefix + name, value)
        if (cluster) {
          cluster.reportClients(stats.clientsConnected)
          let total = 0
          for (const count of cluster.clientCounts().values()) total += count
          this.publish('$SYS/broker/cluster/nodes', cluster.nodes().length)
          this.publish('$SYS/broker/cluster/clients/connected', total)
        }
      },
      (error: unknown) => this.ctx.logger.warn({ err: error }, '$SYS update skipped: retained count unavailable'),
    )
  }
}

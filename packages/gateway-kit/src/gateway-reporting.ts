import type { Broker, ComponentStats } from '@wren/core'

/**
 * Registers a gateway's metrics with the broker and returns how to take them back. A second gateway of the same
 * kind on one broker serves its devices all the same, but is not reported (its name is taken): a warning says so.
 */
export function reportGateway(broker: Broker, stats: ComponentStats, protocol: string): () => void {
  try {
    return broker.admin.register(stats)
  } catch (error) {
    broker.logger.warn({ err: error }, `${stats.name}: another ${protocol} gateway reports for this broker: this one has no metrics`)
    return () => undefined
  }
}

/** Publishes a gateway's counters as retained `$SYS/broker/<prefix>/<name>` messages (best effort, as the broker's own). */
export function publishSysValues(broker: Broker, prefix: string, values: ReadonlyArray<readonly [string, number]>): void {
  for (const [name, value] of values) {
    broker.publish({ topic: `$SYS/broker/${prefix}/${name}`, payload: String(value), retain: true }).catch(() => undefined)
  }
}

import { PACKET_TYPE_NAMES, type Broker, type BrokerGauges, type DropCounters } from '@wren/core'
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client'
import { ComponentMetrics } from './component-metrics.js'
import { LATENCY_BUCKETS, persistenceTimings, type OperationTiming } from './persistence-timing.js'

export interface MetricsOptions {
  /** Where the metrics are registered. Default: a registry of their own (several brokers per process stay apart). */
  registry?: Registry
  /**
   * Value of a `node` label on every metric. Default: the broker id when the broker is a cluster node, none
   * otherwise. `false` leaves the label out even in a cluster.
   */
  node?: string | false
  /** Node.js process metrics (`process_*`, `nodejs_*`, event-loop lag included). Default true. */
  defaultMetrics?: boolean
}

export interface BrokerMetrics {
  /** The host adds its own metrics here; they are scraped with the broker's. */
  readonly registry: Registry
  readonly contentType: string
  /**
   * The exposition text, read from the broker's counters now, with the metrics of the bridges and gateways
   * registered with `broker.admin` (serve this rather than `registry.metrics()`, which leaves out newly registered ones).
   */
  metrics(): Promise<string>
}

const DROP_REASONS: ReadonlyArray<[keyof DropCounters, string]> = [
  ['queueFull', 'queue_full'],
  ['slowConsumer', 'slow_consumer'],
  ['expired', 'expired'],
  ['noSubscribers', 'no_subscribers'],
  ['notAuthorized', 'not_authorized'],
  ['tooLarge', 'too_large'],
]

/** How long one read of the gauges serves the metrics of one `registry.metrics()` (they are collected in parallel). */
const GAUGES_FRESH_MS = 250

/**
 * Prometheus metrics for a broker, read from its plain counters when scraped: nothing is added to the
 * message path. Serve `metrics()` with `contentType`, or use `createAdminHandler`, which does.
 */
export function createMetrics(broker: Broker, options: MetricsOptions = {}): BrokerMetrics {
  const registry = options.registry ?? new Registry()
  const node = options.node === undefined ? (broker.admin.clustered ? broker.id : undefined) : options.node || undefined
  if (node !== undefined) registry.setDefaultLabels({ node })
  if (options.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry })
    // Gauges named like counters fail `promtool check metrics`; the same numbers are in the by-type series.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name)
  }
  const stats = broker.stats
  const registers = [registry]

  let gaugesRead: { at: number; value: Promise<BrokerGauges> } | null = null
  const gauges = (): Promise<BrokerGauges> => {
    const now = Date.now()
    if (!gaugesRead || now - gaugesRead.at > GAUGES_FRESH_MS) gaugesRead = { at: now, value: broker.admin.gauges() }
    return gaugesRead.value
  }

  const gauge = (name: string, help: string, read: (g: BrokerGauges) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        this.set(read(await gauges()))
      },
    })
  }
  const counter = <T extends string>(name: string, help: string, labelNames: readonly T[], fill: (c: Counter<T>) => void): void => {
    new Counter<T>({
      name,
      help,
      labelNames,
      registers,
      // The totals live in the broker's counters: prom-client counters only go up, so reset and add them.
      collect() {
        this.reset()
        fill(this)
      },
    })
  }

  new Gauge({ name: 'wren_clients_connected', help: 'Clients connected to this broker.', registers, collect() { this.set(stats.clientsConnected) } })
  new Gauge({ name: 'wren_clients_maximum', help: 'Most clients connected at once since the broker started.', registers, collect() { this.set(stats.clientsMaximum) } })
  new Gauge({ name: 'wren_uptime_seconds', help: 'Seconds since the broker started.', registers, collect() { this.set((Date.now() - stats.startedAt) / 1000) } })
  new Gauge({
    name: 'wren_sessions',
    help: 'Sessions: online (connected here) and offline (kept for a persistent client that last connected here).',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      const g = await gauges()
      this.set({ state: 'online' }, g.sessionsOnline)
      this.set({ state: 'offline' }, g.sessionsOffline)
    },
  })
  gauge('wren_subscriptions', 'Client subscriptions in the routing table, shared ones included.', (g) => g.subscriptions)
  gauge('wren_shared_subscriptions', 'Shared subscription memberships ($share/<group>/<filter> per client).', (g) => g.sharedSubscriptions)
  gauge('wren_retained_messages', 'Retained messages in the store.', (g) => g.retainedMessages)
  gauge('wren_queued_messages', 'QoS 1/2 messages waiting for connected clients behind those in flight.', (g) => g.queuedMessages)
  gauge('wren_inflight_messages', 'QoS 1/2 messages sent to connected clients and not yet acknowledged.', (g) => g.inflightMessages)
  gauge('wren_offline_queued_messages', 'QoS 1/2 messages in the store for the offline sessions this broker holds.', (g) => g.offlineQueuedMessages)
  gauge('wren_offline_queued_bytes', 'Payload bytes of the messages in the store for the offline sessions this broker holds.', (g) => g.offlineQueuedBytes)

  counter('wren_connections_total', 'Streams handed to the broker, by transport.', ['transport'], (c) => {
    for (const [transport, count] of stats.connectionsByTransport) c.inc({ transport }, count)
  })
  counter('wren_messages_received_total', 'PUBLISH packets received from clients, by QoS.', ['qos'], (c) => {
    stats.publishReceivedByQos.forEach((count, qos) => c.inc({ qos }, count))
  })
  counter('wren_messages_sent_total', 'PUBLISH packets sent to clients, by the QoS of the delivery.', ['qos'], (c) => {
    stats.publishSentByQos.forEach((count, qos) => c.inc({ qos }, count))
  })
  counter('wren_messages_dropped_total', 'Messages (or deliveries) dropped, by reason.', ['reason'], (c) => {
    for (const [key, reason] of DROP_REASONS) c.inc({ reason }, stats.dropped[key])
  })
  counter('wren_bytes_received_total', 'Bytes read from client streams.', [], (c) => c.inc(stats.bytesReceived))
  counter('wren_bytes_sent_total', 'Bytes written to client streams.', [], (c) => c.inc(stats.bytesSent))
  counter('wren_packets_received_total', 'MQTT packets received, by type.', ['type'], (c) => {
    for (const [type, count] of Object.entries(stats.packetsReceived)) c.inc({ type }, count)
  })
  counter('wren_packets_sent_total', 'MQTT packets sent, by type.', ['type'], (c) => {
    PACKET_TYPE_NAMES.forEach((type, code) => {
      if (type !== undefined) c.inc({ type }, stats.packetsSentByType[code] as number)
    })
  })
  counter('wren_authentication_total', 'CONNECT authentications, by result.', ['result'], (c) => {
    c.inc({ result: 'success' }, stats.authentication.success)
    c.inc({ result: 'failure' }, stats.authentication.failure)
  })
  counter('wren_authorization_denied_total', 'Refusals of the authorization hooks, by action.', ['action'], (c) => {
    for (const [action, count] of Object.entries(stats.authorizationDenied)) c.inc({ action }, count)
  })

  const timings = persistenceTimings(broker.persistence)
  if (timings) registry.registerMetric(persistenceHistogram(timings) as unknown as Metric)

  const components = new ComponentMetrics(broker, registry)
  return {
    registry,
    contentType: registry.contentType,
    metrics: () => {
      gaugesRead = null
      components.sync()
      return registry.metrics()
    },
  }
}

const HISTOGRAM_NAME = 'wren_persistence_operation_duration_seconds'
const HISTOGRAM_HELP = 'Latency of persistence operations, by operation.'

/**
 * A histogram whose buckets `timePersistence` counts: this only reads them. prom-client's own Histogram
 * cannot be handed bucket counts, so this is the registry's metric shape, written out.
 */
function persistenceHistogram(timings: ReadonlyMap<string, OperationTiming>) {
  return {
    name: HISTOGRAM_NAME,
    help: HISTOGRAM_HELP,
    type: 'histogram',
    aggregator: 'sum',
    reset: () => undefined,
    get: async () => {
      const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = []
      for (const [operation, timing] of timings) {
        let cumulative = 0
        LATENCY_BUCKETS.forEach((le, i) => {
          cumulative += timing.counts[i] as number
          values.push({ metricName: `${HISTOGRAM_NAME}_bucket`, labels: { operation, le }, value: cumulative })
        })
        values.push({ metricName: `${HISTOGRAM_NAME}_bucket`, labels: { operation, le: '+Inf' }, value: timing.count })
        values.push({ metricName: `${HISTOGRAM_NAME}_sum`, labels: { operation }, value: timing.sum })
        values.push({ metricName: `${HISTOGRAM_NAME}_count`, labels: { operation }, value: timing.count })
      }
      return { name: HISTOGRAM_NAME, help: HISTOGRAM_HELP, type: 'histogram', aggregator: 'sum', values }
    },
  }
}

import type { Broker, ComponentMetric, ComponentStats } from '@wren/core'
import type { Bridge } from './bridge.js'

const BRIDGE_METRICS: readonly ComponentMetric[] = [
  { name: 'messages_sent', type: 'counter', help: 'Local messages sent to the remote broker (QoS 1/2: acknowledged by it).' },
  { name: 'messages_received', type: 'counter', help: 'Remote messages published to the local broker (QoS 1/2: acknowledged by it).' },
  { name: 'messages_dropped', type: 'counter', help: 'Messages not bridged: QoS 0 while the remote was down, over the packet size or hop limit, refused.' },
  { name: 'reconnects', type: 'counter', help: 'Connections to the remote broker after the first one.' },
  { name: 'queued_messages', type: 'gauge', help: 'Local QoS 1/2 messages not yet acknowledged by the remote: queued for the bridge and in flight.' },
]

/** A bridge as metrics and the admin API see it (`wren_bridge_*{bridge="<name>"}`, `/api/v1/bridges`). */
export function bridgeStats(bridge: Bridge, broker: Broker): ComponentStats {
  return {
    kind: 'bridge',
    name: bridge.name,
    metrics: BRIDGE_METRICS,
    snapshot() {
      const { stats, options, state } = bridge
      // The local session's backlog is the broker's (it is persistent): what waits there and what the bridge holds.
      const local = broker.admin.client(options.localClientId)
      const queued = local ? local.queued + local.inflight : bridge.queued
      return {
        up: state === 'connected',
        state,
        values: { messages_sent: stats.forwarded, messages_received: stats.received, messages_dropped: stats.dropped, reconnects: stats.reconnects, queued_messages: queued },
        details: {
          remote: bridge.remoteAddress,
          addresses: options.addresses.map((a) => `${a.host}:${a.port}`),
          protocolVersion: options.protocolVersion,
          startType: options.startType,
          localClientId: options.localClientId,
          remoteClientId: options.remoteClientId,
        },
      }
    },
  }
}

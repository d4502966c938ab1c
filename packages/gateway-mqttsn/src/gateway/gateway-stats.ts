import type { ComponentMetric, ComponentStats } from '@wren/core'
import type { MqttSnGateway } from './gateway.js'
import type { SnSessionState } from './sn-session.js'

const GATEWAY_METRICS: readonly ComponentMetric[] = [
  { name: 'clients_active', type: 'gauge', help: 'MQTT-SN clients connected and awake.' },
  { name: 'clients_asleep', type: 'gauge', help: 'MQTT-SN clients asleep (or awake to collect their messages).' },
  { name: 'datagrams_received', type: 'counter', help: 'UDP datagrams received.' },
  { name: 'datagrams_sent', type: 'counter', help: 'UDP datagrams sent.' },
  { name: 'datagrams_malformed', type: 'counter', help: 'Datagrams that were not well-formed MQTT-SN 1.2 (or too large); dropped.' },
  { name: 'datagrams_dropped', type: 'counter', help: 'Well-formed datagrams with nothing to act on (unknown client, out of place).' },
  { name: 'messages_received', type: 'counter', help: 'PUBLISHes from clients accepted towards the broker.' },
  { name: 'messages_rejected', type: 'counter', help: 'PUBLISHes from clients answered with a non-zero return code.' },
  { name: 'messages_sent', type: 'counter', help: 'PUBLISHes sent to clients.' },
  { name: 'messages_dropped', type: 'counter', help: 'Messages for clients not delivered: sleeper buffer full, datagram too large, topic id refused.' },
]

/** The MQTT-SN gateway as metrics and the admin API see it (`wren_gateway_*{gateway="mqtt-sn"}`, `/api/v1/gateways`). */
export function gatewayStats(gateway: MqttSnGateway): ComponentStats {
  return {
    kind: 'gateway',
    name: 'mqtt-sn',
    metrics: GATEWAY_METRICS,
    snapshot() {
      const byState: Partial<Record<SnSessionState, number>> = {}
      for (const client of gateway.clients()) byState[client.state] = (byState[client.state] ?? 0) + 1
      const s = gateway.stats
      const address = gateway.address
      return {
        up: !gateway.closed,
        state: gateway.closed ? 'closed' : 'listening',
        values: {
          clients_active: byState.active ?? 0,
          clients_asleep: (byState.asleep ?? 0) + (byState.awake ?? 0),
          datagrams_received: s.datagramsReceived,
          datagrams_sent: s.datagramsSent,
          datagrams_malformed: s.datagramsMalformed,
          datagrams_dropped: s.datagramsDropped,
          messages_received: s.publishesReceived,
          messages_rejected: s.publishesRejected,
          messages_sent: s.publishesSent,
          messages_dropped: s.messagesDropped,
        },
        details: {
          address,
          gatewayId: gateway.options.gatewayId,
          clientsByState: byState,
          maxClients: gateway.options.maxClients,
          predefinedTopics: gateway.options.predefined.size,
        },
      }
    },
  }
}

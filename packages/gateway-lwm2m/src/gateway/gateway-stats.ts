import type { ComponentMetric, ComponentStats } from '@wren/core'
import type { Lwm2mGateway } from './gateway.js'

const GATEWAY_METRICS: readonly ComponentMetric[] = [
  { name: 'devices_registered', type: 'gauge', help: 'Devices registered with the gateway now.' },
  { name: 'datagrams_received', type: 'counter', help: 'UDP datagrams received.' },
  { name: 'datagrams_malformed', type: 'counter', help: 'Datagrams that were not well-formed for the gateway protocol; dropped.' },
  { name: 'registrations', type: 'counter', help: 'LwM2M registrations accepted.' },
  { name: 'registrations_rejected', type: 'counter', help: 'LwM2M registrations refused (bad request, unknown endpoint, refused by the hooks).' },
  { name: 'updates', type: 'counter', help: 'LwM2M registration updates.' },
  { name: 'deregistrations', type: 'counter', help: 'LwM2M de-registrations.' },
  { name: 'expirations', type: 'counter', help: 'LwM2M devices dropped because their lifetime passed without an update.' },
  { name: 'commands_sent', type: 'counter', help: 'LwM2M commands sent to devices.' },
  { name: 'commands_rejected', type: 'counter', help: 'LwM2M commands that were not valid; answered 4.00, not sent.' },
  { name: 'commands_timed_out', type: 'counter', help: 'LwM2M commands a device did not answer in time (5.04).' },
  { name: 'commands_queued', type: 'counter', help: 'LwM2M commands held for a sleeping queue-mode device.' },
  { name: 'commands_dropped', type: 'counter', help: 'LwM2M commands dropped because a sleeping device had too many held.' },
  { name: 'responses_received', type: 'counter', help: 'LwM2M responses from devices.' },
  { name: 'notifications', type: 'counter', help: 'LwM2M Observe notifications from devices.' },
]

/** The LwM2M gateway as metrics and the admin API see it (`wren_gateway_*{gateway="lwm2m"}`, `/api/v1/gateways`). */
export function gatewayStats(gateway: Lwm2mGateway): ComponentStats {
  return {
    kind: 'gateway',
    name: 'lwm2m',
    metrics: GATEWAY_METRICS,
    snapshot() {
      const s = gateway.stats
      const devices = gateway.devices()
      return {
        up: !gateway.closed,
        state: gateway.closed ? 'closed' : 'listening',
        values: {
          devices_registered: devices.length,
          datagrams_received: s.datagramsReceived,
          datagrams_malformed: s.datagramsMalformed,
          registrations: s.registrations,
          registrations_rejected: s.registrationsRejected,
          updates: s.updates,
          deregistrations: s.deregistrations,
          expirations: s.expirations,
          commands_sent: s.commandsSent,
          commands_rejected: s.commandsRejected,
          commands_timed_out: s.commandsTimedOut,
          commands_queued: s.commandsQueued,
          commands_dropped: s.commandsDropped,
          responses_received: s.responsesReceived,
          notifications: s.notifications,
        },
        details: {
          address: gateway.address,
          devicesInQueueMode: devices.filter((device) => device.binding.includes('Q')).length,
          observations: devices.reduce((sum, device) => sum + device.observations, 0),
          queuedCommands: devices.reduce((sum, device) => sum + device.queuedCommands, 0),
        },
      }
    },
  }
}

import dgram from 'node:dgram'
import { onTestFinished } from 'vitest'
import type { Broker, BrokerOptions } from '@wren/core'
import { startBroker, type StartedBroker } from '../../core/test/helpers/start-broker.js'
import { attachMqttSn, MqttSnClient, type MqttSnClientOptions, type MqttSnGateway, type MqttSnOptions } from '../src/index.js'

export interface StartedGateway extends StartedBroker {
  gateway: MqttSnGateway
  udpPort: number
  socket: dgram.Socket
}

/**
 * Binds a UDP socket on 127.0.0.1 (`udpPort`, default any free one) and serves MQTT-SN on it for a broker that
 * also listens on TCP.
 */
export async function startGateway(options: MqttSnOptions = {}, brokerOptions: BrokerOptions = {}, udpPort = 0): Promise<StartedGateway> {
  const started = await startBroker({ sysInterval: 0, ...brokerOptions })
  const socket = await bindUdp(udpPort)
  // The core test helpers start a broker from core's source; this package is typed against core's build: same class.
  const gateway = attachMqttSn(started.broker as unknown as Broker, socket, { sysInterval: 0, ...options })
  onTestFinished(() => {
    gateway.close()
    try {
      socket.close()
    } catch {
      // The test closed it already.
    }
  })
  return { ...started, gateway, socket, udpPort: socket.address().port }
}

export function bindUdp(port = 0): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4')
  return new Promise((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(port, '127.0.0.1', () => {
      socket.removeListener('error', reject)
      resolve(socket)
    })
  })
}

let counter = 0
export function snClientId(prefix = 'sn'): string {
  counter++
  return `${prefix}-${counter}`
}

type ClientOptions = Omit<MqttSnClientOptions, 'port' | 'clientId'> & { clientId?: string }

/** An MQTT-SN client of the gateway, closed when the test finishes; `connect: false` only opens its socket. */
export async function snClient(gw: StartedGateway, options: ClientOptions = {}, connect = true): Promise<MqttSnClient> {
  const clientOptions = { clientId: snClientId(), retryInterval: 1000, ...options, port: gw.udpPort }
  const client = connect ? await MqttSnClient.connect(clientOptions) : await MqttSnClient.open(clientOptions)
  onTestFinished(() => client.close())
  return client
}

import dgram from 'node:dgram'
import { once } from 'node:events'
import { isIPv6 } from 'node:net'
import type { Broker, HookOptions } from '@wren/core'
import { attachMqttSn, type MqttSnOptions } from '@wren/gateway-mqttsn'
import { ConfigError, type ServerConfig } from './config.js'
import { resolveExposure } from './exposure.js'
import { urlHost, type Listener } from './listeners/listener.js'

/** The `mqttsn` setting: an MQTT-SN 1.2 gateway on UDP (off unless given). */
export interface MqttSnConfig {
  /** UDP port; 0 picks a free one. */
  port: number
  /** Address to bind; default: the address the other listeners bind. */
  host?: string
  /** GwId in GWINFO and ADVERTISE (0-255). Default 1. */
  gatewayId?: number
  /** Predefined topic ids: `{ "1": "sensors/temp" }`. */
  predefined?: Record<string, string>
  /** Accept QoS -1 PUBLISHes from clients that are not connected. Default true. */
  qosMinus1?: boolean
  /** Periodic ADVERTISE (off by default): every `interval` seconds to `address` (default 255.255.255.255) : `port` (default the gateway's). */
  advertise?: { interval: number; address?: string; port?: number }
}

const describe = (value: unknown): string => (typeof value === 'string' ? `"${value}"` : JSON.stringify(value))

function integerIn(value: unknown, label: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${label} must be an integer from ${min} to ${max}, got ${describe(value)}`)
  }
  return value
}

function objectOf(value: unknown, label: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${label} must be an object, got ${describe(value)}`)
  return value as Record<string, unknown>
}

const KNOWN = ['port', 'host', 'gatewayId', 'predefined', 'qosMinus1', 'advertise']

/** Checks the `mqttsn` setting as a config file or flags give it. */
export function parseMqttSnConfig(value: unknown, label: string): MqttSnConfig {
  const raw = objectOf(value, label)
  for (const key of Object.keys(raw)) {
    if (!KNOWN.includes(key)) throw new ConfigError(`${label}.${key} is not a known setting (known: ${KNOWN.join(', ')})`)
  }
  const config: MqttSnConfig = { port: integerIn(raw.port, `${label}.port`, 0, 65535) }
  if (raw.host !== undefined) {
    if (typeof raw.host !== 'string' || raw.host === '') throw new ConfigError(`${label}.host must be a non-empty string, got ${describe(raw.host)}`)
    config.host = raw.host
  }
  if (raw.gatewayId !== undefined) config.gatewayId = integerIn(raw.gatewayId, `${label}.gatewayId`, 0, 255)
  if (raw.qosMinus1 !== undefined) {
    if (typeof raw.qosMinus1 !== 'boolean') throw new ConfigError(`${label}.qosMinus1 must be true or false, got ${describe(raw.qosMinus1)}`)
    config.qosMinus1 = raw.qosMinus1
  }
  if (raw.predefined !== undefined) {
    const predefined: Record<string, string> = {}
    for (const [id, topic] of Object.entries(objectOf(raw.predefined, `${label}.predefined`))) {
      if (!/^\d+$/.test(id) || Number(id) < 1 || Number(id) > 0xfffe) {
        throw new ConfigError(`${label}.predefined: topic id ${describe(id)} must be an integer from 1 to 65534`)
      }
      if (typeof topic !== 'string' || topic === '' || topic.includes('+') || topic.includes('#')) {
        throw new ConfigError(`${label}.predefined.${id} must be a topic name without wildcards, got ${describe(topic)}`)
      }
      predefined[id] = topic
    }
    config.predefined = predefined
  }
  if (raw.advertise !== undefined) {
    const advertise = objectOf(raw.advertise, `${label}.advertise`)
    config.advertise = { interval: integerIn(advertise.interval, `${label}.advertise.interval`, 1, 65535) }
    if (advertise.address !== undefined) {
      if (typeof advertise.address !== 'string' || advertise.address === '') {
        throw new ConfigError(`${label}.advertise.address must be a non-empty string, got ${describe(advertise.address)}`)
      }
      config.advertise.address = advertise.address
    }
    if (advertise.port !== undefined) config.advertise.port = integerIn(advertise.port, `${label}.advertise.port`, 1, 65535)
  }
  return config
}

/** An `mqttsn.host` of its own follows the listeners' safe defaults: a public address needs authentication or allowAnonymous. */
export function checkMqttSnExposure(config: ServerConfig, hooks: HookOptions): void {
  const host = config.mqttsn?.host
  if (host !== undefined) resolveExposure({ ...config, host }, hooks)
}

/** Serves MQTT-SN on UDP for the broker; closing it ends the gateway's clients and the socket. */
export async function listenMqttSn(broker: Broker, config: MqttSnConfig, serverHost: string): Promise<Listener> {
  const host = config.host ?? serverHost
  const socket = dgram.createSocket(isIPv6(host) ? 'udp6' : 'udp4')
  socket.bind(config.port, host)
  await Promise.race([
    once(socket, 'listening'),
    once(socket, 'error').then(([error]) => {
      throw error
    }),
  ])
  const port = socket.address().port
  // A UDP socket with no 'error' listener would take the process down over one bad send or receive.
  socket.on('error', (error) => broker.logger.warn({ err: error }, 'mqtt-sn socket error'))
  const options: MqttSnOptions = {}
  if (config.gatewayId !== undefined) options.gatewayId = config.gatewayId
  if (config.qosMinus1 !== undefined) options.qosMinus1 = config.qosMinus1
  if (config.predefined !== undefined) {
    options.predefined = Object.fromEntries(Object.entries(config.predefined).map(([id, topic]) => [Number(id), topic]))
  }
  if (config.advertise !== undefined) {
    const address = config.advertise.address ?? '255.255.255.255'
    if (address === '255.255.255.255') socket.setBroadcast(true)
    options.advertise = { address, port: config.advertise.port ?? port, interval: config.advertise.interval }
  }
  const gateway = attachMqttSn(broker, socket, options)
  const closed = new Promise<void>((resolve) => socket.once('close', resolve))
  return {
    address: { transport: 'mqtt-sn', host, port, url: `mqttsn://${urlHost(host)}:${port}` },
    close() {
      gateway.close()
      try {
        socket.close()
      } catch {
        // Already closed.
      }
      return closed
    },
    terminate() {},
  }
}

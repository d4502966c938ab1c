import type { Broker, HookOptions } from '@wren/core'
import type { MqttSnOptions, SnCredentials, attachMqttSn } from '@wren/gateway-mqttsn'
import { boolean, describe, integer, nonEmptyString, type Check } from './checks.js'
import { ConfigError } from './config-error.js'
import { resolveExposure } from './exposure.js'
import { urlHost, type Listener } from './listeners/listener.js'
import { loadFactory } from './optional-package.js'
import type { ServerConfig } from './settings.js'
import { bindGatewaySocket, closeGatewaySocket } from './udp-socket.js'

/** The `mqttsn` setting: an MQTT-SN 1.2 gateway on UDP (off unless it or `mqttsnPort` gives a port). */
export interface MqttSnConfig {
  /** UDP port; 0 picks a free one. `mqttsnPort` (--mqttsn-port) wins over it. */
  port?: number
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
  /**
   * The user name and password every MQTT-SN client's broker session logs in with (MQTT-SN 1.2 CONNECT carries
   * none), checked by the password file and other `authenticate` hooks like any client's; as Paho's gateway
   * LoginID / Password.
   */
  username?: string
  password?: string
  /**
   * When given, only these client ids may connect (as Paho's ClientAuthentication with a clients list); each may
   * log in with a user name and password of its own instead of `username` / `password`.
   */
  clients?: Record<string, SnLogin>
}

/** A login of MQTT-SN clients' broker sessions. */
export interface SnLogin {
  username?: string
  password?: string
}

export function objectOf(value: unknown, label: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${label} must be an object, got ${describe(value)}`)
  return value as Record<string, unknown>
}

/** Checks each field with its check, refusing unknown ones. */
export function fields<T>(value: unknown, label: string, checks: { [K in keyof T]-?: Check<T[K]> }): T {
  const result: Partial<Record<keyof T, unknown>> = {}
  for (const [key, field] of Object.entries(objectOf(value, label))) {
    if (!(key in checks)) throw new ConfigError(`${label}.${key} is not a known setting (known: ${Object.keys(checks).join(', ')})`)
    if (field !== undefined) result[key as keyof T] = (checks[key as keyof T] as Check<unknown>)(field, `${label}.${key}`, '')
  }
  return result as T
}

const predefined: Check<Record<string, string>> = (value, label) => {
  const topics: Record<string, string> = {}
  for (const [id, topic] of Object.entries(objectOf(value, label))) {
    if (!/^\d+$/.test(id) || Number(id) < 1 || Number(id) > 0xfffe) {
      throw new ConfigError(`${label}: topic id ${describe(id)} must be an integer from 1 to 65534`)
    }
    if (typeof topic !== 'string' || topic === '' || topic.includes('+') || topic.includes('#')) {
      throw new ConfigError(`${label}.${id} must be a topic name without wildcards, got ${describe(topic)}`)
    }
    topics[id] = topic
  }
  return topics
}

type Advertise = NonNullable<MqttSnConfig['advertise']>

const advertise: Check<Advertise> = (value, label) => {
  const checked = fields<Partial<Advertise>>(value, label, { interval: integer(1, 65535), address: nonEmptyString, port: integer(1, 65535) })
  if (checked.interval === undefined) throw new ConfigError(`${label} needs "interval"`)
  return checked as Advertise
}

const LOGIN_CHECKS: { [K in keyof SnLogin]-?: Check<SnLogin[K]> } = { username: nonEmptyString, password: nonEmptyString }

const clients: Check<Record<string, SnLogin>> = (value, label) => {
  const checked: Record<string, SnLogin> = {}
  for (const [clientId, login] of Object.entries(objectOf(value, label))) {
    if (clientId === '') throw new ConfigError(`${label}: a client id must not be empty`)
    checked[clientId] = fields<SnLogin>(login, `${label}.${clientId}`, LOGIN_CHECKS)
  }
  return checked
}

const MQTTSN_CHECKS: { [K in keyof MqttSnConfig]-?: Check<MqttSnConfig[K]> } = {
  port: integer(0, 65535),
  host: nonEmptyString,
  gatewayId: integer(0, 255),
  predefined,
  qosMinus1: boolean,
  advertise,
  ...LOGIN_CHECKS,
  clients,
}

/**
 * What the gateway's clients log in with: the client's own login from `clients`, else the shared one; a client
 * id missing from a `clients` list is refused. Undefined when the config names no login at all.
 */
export function snCredentials(config: MqttSnConfig): MqttSnOptions['credentials'] {
  const { username, password, clients: listed } = config
  if (username === undefined && password === undefined && listed === undefined) return undefined
  const shared = loginOf({ username, password })
  return (clientId) => {
    if (listed === undefined) return shared
    const own = Object.hasOwn(listed, clientId) ? listed[clientId] : undefined
    if (own === undefined) return false
    return own.username === undefined && own.password === undefined ? shared : loginOf(own)
  }
}

function loginOf(login: SnLogin): SnCredentials {
  return {
    ...(login.username === undefined ? {} : { username: login.username }),
    ...(login.password === undefined ? {} : { password: Buffer.from(login.password) }),
  }
}

/** Checks the `mqttsn` setting of a config file. */
export function parseMqttSnConfig(value: unknown, label: string): MqttSnConfig {
  return fields<MqttSnConfig>(value, label, MQTTSN_CHECKS)
}

/**
 * The gateway the config asks for, `--mqttsn-port` over the file's `mqttsn.port`; undefined when off. An
 * `mqttsn.host` of its own follows the listeners' safe defaults: a public address needs authentication or
 * allowAnonymous.
 */
export function resolveMqttSn(config: ServerConfig, hooks: HookOptions): MqttSnConfig & { port: number } | undefined {
  const port = config.mqttsnPort ?? config.mqttsn?.port
  if (port === undefined) {
    if (config.mqttsn !== undefined) throw new ConfigError('mqttsn needs port (or --mqttsn-port)')
    return undefined
  }
  const host = config.mqttsn?.host
  if (host !== undefined) resolveExposure({ ...config, host }, hooks)
  return { ...config.mqttsn, port }
}

/** Serves MQTT-SN on UDP for the broker; closing it ends the gateway's clients and the socket. */
export async function listenMqttSn(broker: Broker, config: MqttSnConfig & { port: number }, serverHost: string): Promise<Listener> {
  // An optional peer, like the persistence adapters: a server without MQTT-SN does not need it installed.
  const attach = await loadFactory<typeof attachMqttSn>('@wren/gateway-mqttsn', 'attachMqttSn', 'mqttsn')
  const host = config.host ?? serverHost
  const socket = await bindGatewaySocket(broker, host, config.port, 'mqtt-sn')
  const port = socket.address().port
  const options: MqttSnOptions = {}
  if (config.gatewayId !== undefined) options.gatewayId = config.gatewayId
  if (config.qosMinus1 !== undefined) options.qosMinus1 = config.qosMinus1
  if (config.predefined !== undefined) {
    options.predefined = Object.fromEntries(Object.entries(config.predefined).map(([id, topic]) => [Number(id), topic]))
  }
  const credentials = snCredentials(config)
  if (credentials !== undefined) options.credentials = credentials
  if (config.advertise !== undefined) {
    const address = config.advertise.address ?? '255.255.255.255'
    if (address === '255.255.255.255') socket.setBroadcast(true)
    options.advertise = { address, port: config.advertise.port ?? port, interval: config.advertise.interval }
  }
  const gateway = attach(broker, socket, options)
  const closed = new Promise<void>((resolve) => socket.once('close', resolve))
  return {
    address: { transport: 'mqtt-sn', host, port, url: `mqttsn://${urlHost(host)}:${port}` },
    close() {
      gateway.close()
      return closeGatewaySocket(socket, closed)
    },
    terminate() {},
  }
}

import { readFile } from 'node:fs/promises'
import type { Broker, HookOptions } from '@wren/core'
import type { attachLwm2m, Lwm2mOptions, parseObjectXml } from '@wren/gateway-lwm2m'
import { describe, filePath, integer, nonEmptyString, type Check } from './checks.js'
import { ConfigError } from './config-error.js'
import { resolveExposure } from './exposure.js'
import { urlHost, type Listener } from './listeners/listener.js'
import { fields } from './mqttsn.js'
import { loadFactory } from './optional-package.js'
import type { ServerConfig } from './settings.js'
import { bindGatewaySocket, closeGatewaySocket } from './udp-socket.js'

/** The `lwm2m` setting: an LwM2M 1.0 gateway on UDP (off unless it or `lwm2mPort` gives a port). */
export interface Lwm2mConfig {
  /** UDP port; 0 picks a free one. `lwm2mPort` (--lwm2m-port) wins over it. */
  port?: number
  /** Address to bind; default: the address the other listeners bind. */
  host?: string
  /** Topic prefix per device, `${endpoint}` the endpoint name. Default 'lwm2m/${endpoint}/'. */
  mountpoint?: string
  lifetimeMin?: number
  lifetimeMax?: number
  qmodeTimeWindow?: number
  /** Observe what devices register: true for every object instance listed, or a list of paths. */
  autoObserve?: boolean | string[]
  /** OMA registry XML files with object definitions beyond the shipped core ones. */
  objects?: string[]
  /** Only these endpoint names may register. */
  endpoints?: string[]
}

function stringList(each: Check<string>): Check<string[]> {
  return (value, label, baseDir) => {
    if (!Array.isArray(value)) throw new ConfigError(`${label} must be a list, got ${describe(value)}`)
    return value.map((item, index) => each(item, `${label}[${index}]`, baseDir))
  }
}

const autoObserve: Check<boolean | string[]> = (value, label, baseDir) =>
  typeof value === 'boolean' ? value : stringList((item, itemLabel) => {
    const path = nonEmptyString(item, itemLabel)
    if (!/^\/\d+(\/\d+){0,3}$/.test(path)) throw new ConfigError(`${itemLabel} must be an LwM2M path like /3/0, got ${describe(path)}`)
    return path
  })(value, label, baseDir)

/** Checks the `lwm2m` setting of a config file; object XML paths are relative to the config file. */
export function parseLwm2mConfig(value: unknown, label: string, baseDir: string): Lwm2mConfig {
  const checks: { [K in keyof Lwm2mConfig]-?: Check<Lwm2mConfig[K]> } = {
    port: integer(0, 65535),
    host: nonEmptyString,
    mountpoint: nonEmptyString,
    lifetimeMin: integer(1, 4294967295),
    lifetimeMax: integer(1, 4294967295),
    qmodeTimeWindow: integer(0, 86400),
    autoObserve,
    objects: (items, itemsLabel) => stringList(filePath)(items, itemsLabel, baseDir),
    endpoints: stringList(nonEmptyString),
  }
  const config = fields<Lwm2mConfig>(value, label, checks)
  if ((config.lifetimeMin ?? 1) > (config.lifetimeMax ?? 86400)) throw new ConfigError(`${label}.lifetimeMin must not exceed lifetimeMax`)
  return config
}

/**
 * The gateway the config asks for, `--lwm2m-port` over the file's `lwm2m.port`; undefined when off. An
 * `lwm2m.host` of its own follows the listeners' safe defaults.
 */
export function resolveLwm2m(config: ServerConfig, hooks: HookOptions): (Lwm2mConfig & { port: number }) | undefined {
  const port = config.lwm2mPort ?? config.lwm2m?.port
  if (port === undefined) {
    if (config.lwm2m !== undefined) throw new ConfigError('lwm2m needs port (or --lwm2m-port)')
    return undefined
  }
  const host = config.lwm2m?.host
  if (host !== undefined) resolveExposure({ ...config, host }, hooks)
  return { ...config.lwm2m, port }
}

/** Serves LwM2M on UDP for the broker; closing it ends the devices' sessions and the socket. */
export async function listenLwm2m(broker: Broker, config: Lwm2mConfig & { port: number }, serverHost: string): Promise<Listener> {
  // An optional peer, like the MQTT-SN gateway: a server without LwM2M does not need it installed.
  const attach = await loadFactory<typeof attachLwm2m>('@wren/gateway-lwm2m', 'attachLwm2m', 'lwm2m')
  const options: Lwm2mOptions = {}
  for (const key of ['mountpoint', 'lifetimeMin', 'lifetimeMax', 'qmodeTimeWindow', 'autoObserve', 'endpoints'] as const) {
    if (config[key] !== undefined) Object.assign(options, { [key]: config[key] })
  }
  if (config.objects !== undefined) {
    const parse = await loadFactory<typeof parseObjectXml>('@wren/gateway-lwm2m', 'parseObjectXml', 'lwm2m')
    options.objects = []
    for (const file of config.objects) {
      try {
        options.objects.push(...parse(await readFile(file, 'utf8')))
      } catch (error) {
        throw new ConfigError(`lwm2m.objects: cannot load ${file}: ${(error as Error).message}`)
      }
    }
  }
  const host = config.host ?? serverHost
  const socket = await bindGatewaySocket(broker, host, config.port, 'lwm2m')
  const port = socket.address().port
  const gateway = attach(broker, socket, options)
  const closed = new Promise<void>((resolve) => socket.once('close', resolve))
  return {
    address: { transport: 'lwm2m', host, port, url: `coap://${urlHost(host)}:${port}` },
    close() {
      gateway.close()
      return closeGatewaySocket(socket, closed)
    },
    terminate() {},
  }
}

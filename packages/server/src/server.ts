import { setTimeout as delay } from 'node:timers/promises'
import type { TlsOptions } from 'node:tls'
import { createBroker, type Broker, type BrokerOptions, type HookOptions } from '@wren/core'
import type { Logger } from 'pino'
import { chainHooks, createServerAuth } from './auth.js'
import { loadBridges, startBridges } from './bridges.js'
import { mergeConfig, validatePartialConfig, type ServerConfig } from './config.js'
import { createLogger } from './logger.js'
import { openCluster } from './cluster.js'
import { openPersistence } from './persistence.js'
import { readTlsFiles } from './tls-files.js'
import { resolveExposure } from './exposure.js'
import type { Listener, ListenerAddress } from './listeners/listener.js'
import { listenTcp } from './listeners/tcp.js'
import { listenWebSocket } from './listeners/websocket.js'

export interface StartOptions {
  /** Defaults to a pino logger at `config.logLevel` writing to stdout. */
  logger?: Logger
  /** Authentication and authorization hooks, run after those of `passwordFile`, `aclFile` and `certCnAsUsername`. */
  hooks?: HookOptions
}

export interface RunningServer {
  broker: Broker
  config: ServerConfig
  /** One entry per listener, in the order they were opened; port 0 in the config shows here as the port chosen. */
  addresses: ListenerAddress[]
  /**
   * Reads the password and ACL files again (what SIGHUP does), and logs the outcome. On an error it rejects
   * and the files loaded before stay in force. Without such files it does nothing.
   */
  reload(): Promise<void>
  /** Stops accepting, closes the broker (which ends every client and its persistence), then the listeners. */
  close(): Promise<void>
}

/** How long clients get to read the broker's goodbye before their connections are cut. */
const CLIENT_GRACE_MS = 1000

/** The listeners the config asks for, in a fixed order: tcp, ws, tls, wss. Port -1 leaves one out. */
function plannedListeners(
  broker: Broker,
  config: ServerConfig,
  host: string,
  tls: TlsOptions | undefined,
): Array<() => Promise<Listener>> {
  const { wsPath: path } = config
  const limits = {
    ...(config.maxPacketSize === undefined ? {} : { maxPayload: config.maxPacketSize }),
    ...(config.wsOrigins === undefined ? {} : { origins: config.wsOrigins }),
  }
  const guard = {
    ...(config.connectTimeout === undefined ? {} : { handshakeTimeout: config.connectTimeout }),
    ...(config.maxConnections === undefined ? {} : { maxConnections: config.maxConnections }),
  }
  const wanted: Array<[number, (port: number) => Promise<Listener>]> = [
    [config.port, (port) => listenTcp(broker, { host, port, ...guard })],
    [config.wsPort, (port) => listenWebSocket(broker, { host, port, path, limits })],
  ]
  if (tls) {
    wanted.push(
      [config.tlsPort, (port) => listenTcp(broker, { host, port, tls, ...guard })],
      [config.wssPort, (port) => listenWebSocket(broker, { host, port, path, tls, limits })],
    )
  }
  return wanted.filter(([port]) => port >= 0).map(([port, open]) => () => open(port))
}

type Limits = Pick<
  BrokerOptions,
  'maxConnections' | 'maxPacketSize' | 'maxQueued' | 'maxInflight' | 'maxPublishRate' | 'connectTimeout' | 'maxSubscriptionsPerClient'
>

/** The limits the config sets; the others keep the broker's defaults. */
function limits(config: ServerConfig): Limits {
  const options: Limits = {}
  if (config.maxConnections !== undefined) options.maxConnections = config.maxConnections
  if (config.maxPacketSize !== undefined) options.maxPacketSize = config.maxPacketSize
  if (config.maxQueued !== undefined) options.maxQueued = config.maxQueued
  if (config.maxInflight !== undefined) options.maxInflight = config.maxInflight
  if (config.maxPublishRate !== undefined) options.maxPublishRate = config.maxPublishRate
  if (config.connectTimeout !== undefined) options.connectTimeout = config.connectTimeout
  if (config.maxSubscriptions !== undefined) options.maxSubscriptionsPerClient = config.maxSubscriptions
  return options
}

async function closeAll(broker: Broker, listeners: Listener[]): Promise<void> {
  const listenersClosed = Promise.all(listeners.map((listener) => listener.close()))
  await broker.close()
  const grace = delay(CLIENT_GRACE_MS, true, { ref: false })
  const stragglers = await Promise.race([listenersClosed.then(() => false), grace])
  if (stragglers) for (const listener of listeners) listener.terminate()
  await listenersClosed
}

/**
 * Starts a broker with its listeners: what the `wren` command runs, and what tests and hosts
 * that want the standalone server in-process call. `input` is checked like a config file.
 */
export async function startServer(
  input: Partial<ServerConfig> = {},
  options: StartOptions = {},
): Promise<RunningServer> {
  const config = mergeConfig(validatePartialConfig(input, (key) => `config.${key}`, process.cwd()))
  const logger = options.logger ?? createLogger(config.logLevel)
  const tls = await readTlsFiles(config)
  const auth = createServerAuth(config)
  const exposure = resolveExposure(config, options.hooks ?? {})
  const bridgeOptions = await loadBridges(config)

  const cluster = config.cluster === undefined
    ? undefined
    : await openCluster(config.cluster, config.nodeId, logger.child({ component: 'cluster' }))
  const persistence = await openPersistence(config.persistence)
  const broker = createBroker({
    logger: logger.child({ component: 'broker' }),
    sysInterval: config.sysInterval,
    ...limits(config),
    ...(persistence ? { persistence } : {}),
    ...(cluster ? { cluster } : {}),
    hooks: chainHooks(auth.hooks, options.hooks ?? {}),
  })
  broker.on('error', (error) => logger.error({ err: error }, 'broker error'))
  broker.on('clientError', (client, error) => logger.warn({ clientId: client?.id, err: error }, 'client error'))
  broker.on('clientConnected', (client) =>
    logger.debug({ clientId: client.id, transport: client.meta.transport }, 'client connected'),
  )
  broker.on('clientDisconnected', (client, reason) =>
    logger.debug({ clientId: client.id, reason }, 'client disconnected'),
  )
  broker.on('subscribed', (client, subscriptions) =>
    logger.debug({ clientId: client.id, filters: subscriptions.map((s) => s.filter) }, 'client subscribed'),
  )

  const listeners: Listener[] = []
  try {
    await broker.ready()
    for (const open of plannedListeners(broker, config, exposure.host, tls)) listeners.push(await open())
  } catch (error) {
    await closeAll(broker, listeners)
    throw error
  }

  const bridges = await startBridges(broker, bridgeOptions, config, logger.child({ component: 'bridge' }))
  const addresses = listeners.map((listener) => listener.address)
  if (exposure.warning !== undefined) logger.warn(exposure.warning)
  for (const address of addresses) logger.info(address, `listening on ${address.url}`)
  const security = {
    passwordFile: config.passwordFile ?? null,
    aclFile: config.aclFile ?? null,
    requireClientCert: config.requireClientCert,
    certCnAsUsername: config.certCnAsUsername,
  }
  const started = { brokerId: broker.id, persistence: config.persistence.kind, cluster: cluster !== undefined, limits: limits(config), ...security }
  logger.info(started, 'broker started')

  let closing: Promise<void> | undefined
  return {
    broker,
    config,
    addresses,
    async reload() {
      if (!auth.hasFiles) {
        logger.info('reload: no password or ACL file to read')
        return
      }
      try {
        await auth.reload()
      } catch (error) {
        logger.error({ err: error }, 'reload failed: the password and ACL files loaded before stay in force')
        throw error
      }
      logger.info({ passwordFile: security.passwordFile, aclFile: security.aclFile }, 'reloaded the password and ACL files')
    },
    close() {
      closing ??= bridges
        .stop()
        .then(() => closeAll(broker, listeners))
        .then(() => logger.info('broker stopped'))
      return closing
    },
  }
}

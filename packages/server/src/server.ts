import { setTimeout as delay } from 'node:timers/promises'
import { createBroker, type Broker, type HookOptions } from '@wren/core'
import type { Logger } from 'pino'
import { adminPersistence, checkAdminConfig, startAdmin, type AdminListener } from './admin.js'
import { chainHooks, createServerAuth } from './auth.js'
import { loadBridges, startBridges } from './bridges.js'
import { logClientActivity } from './client-log.js'
import { mergeConfig, validatePartialConfig, type ServerConfig } from './config.js'
import { createLogger } from './logger.js'
import { openCluster } from './cluster.js'
import { resolveExposure } from './exposure.js'
import { planListeners } from './listener-plan.js'
import { openPersistence } from './persistence.js'
import { brokerOptions } from './settings.js'
import { startSummary } from './start-summary.js'
import type { Listener, ListenerAddress } from './listeners/listener.js'
import { openListeners } from './listeners/open-listeners.js'
import { listenLwm2m, resolveLwm2m } from './lwm2m.js'
import { listenMqttSn, resolveMqttSn } from './mqttsn.js'

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
  /** Where metrics, the admin API and the dashboard are served (`adminPort`); undefined when off. */
  adminUrl: string | undefined
  /** Where it listens, which store it uses and who may connect, in plain words: what `wren` prints first. */
  summary: string[]
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
  checkAdminConfig(config)
  const logger = options.logger ?? createLogger(config.logLevel, config.logFormat)
  const exposure = resolveExposure(config, options.hooks ?? {})
  const plan = await planListeners(config, exposure.host)
  const mqttsn = resolveMqttSn(config, options.hooks ?? {})
  const lwm2m = resolveLwm2m(config, options.hooks ?? {})
  const auth = createServerAuth(config)
  const bridgeOptions = await loadBridges(config)

  const cluster = config.cluster === undefined
    ? undefined
    : await openCluster(config.cluster, config.nodeId, logger.child({ component: 'cluster' }))
  const persistence = await adminPersistence(config, await openPersistence(config.persistence))
  const broker = createBroker({
    logger: logger.child({ component: 'broker' }),
    ...brokerOptions(config),
    ...(persistence ? { persistence } : {}),
    ...(cluster ? { cluster } : {}),
    hooks: chainHooks(auth.hooks, options.hooks ?? {}),
  })
  broker.on('error', (error) => logger.error({ err: error }, 'broker error'))
  broker.on('clientError', (client, error) => logger.warn({ clientId: client?.id, err: error }, 'client error'))
  logClientActivity(broker, logger.child({ component: 'clients' }))
  broker.on('subscribed', (client, subscriptions) =>
    logger.debug({ clientId: client.id, filters: subscriptions.map((s) => s.filter) }, 'client subscribed'),
  )

  let listeners: Listener[] = []
  let admin: AdminListener | undefined
  try {
    await broker.ready()
    listeners = await openListeners(broker, plan)
    if (mqttsn) listeners.push(await listenMqttSn(broker, mqttsn, exposure.host))
    if (lwm2m) listeners.push(await listenLwm2m(broker, lwm2m, exposure.host))
    admin = await startAdmin(broker, config, logger)
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
  const summary = startSummary(config, addresses, options.hooks?.authenticate !== undefined)
  const started = {
    brokerId: broker.id,
    persistence: config.persistence.kind,
    cluster: cluster !== undefined,
    brokerOptions: brokerOptions(config),
    ...security,
    summary,
  }
  logger.info(started, 'broker started')

  let closing: Promise<void> | undefined
  return {
    broker,
    config,
    addresses,
    adminUrl: admin?.url,
    summary,
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
        .then(() => Promise.all([admin?.close(), closeAll(broker, listeners)]))
        .then(() => logger.info('broker stopped'))
      return closing
    },
  }
}

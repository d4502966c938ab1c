import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createMemoryPersistence, type Broker, type Persistence } from '@wren/core'
import type { Logger } from 'pino'
import { ConfigError, type ServerConfig } from './config.js'
import { isLoopback } from './exposure.js'
import { urlHost } from './listeners/listener.js'

export interface AdminListener {
  /** e.g. `http://127.0.0.1:9100`: `/metrics`, `/api/v1/...` and the dashboard at `/`. */
  readonly url: string
  close(): Promise<void>
}

/** The admin port can kick clients and delete sessions: reachable from other hosts only with a token. */
export function checkAdminConfig(config: ServerConfig): void {
  if (config.adminPort >= 0 && config.adminToken === undefined && !isLoopback(config.adminHost)) {
    throw new ConfigError(`adminHost ${config.adminHost} is not a loopback address: set adminToken (--admin-token) so that the admin API is not open to the network`)
  }
}

/** With the admin port on, store operations are timed for the persistence latency histogram. */
export async function adminPersistence(config: ServerConfig, persistence: Persistence | undefined): Promise<Persistence | undefined> {
  if (config.adminPort < 0) return persistence
  const { timePersistence } = await import('@wren/observability')
  return timePersistence(persistence ?? createMemoryPersistence())
}

/** Serves metrics, the admin API and the dashboard on `adminHost:adminPort`; undefined when the port is off. */
export async function startAdmin(broker: Broker, config: ServerConfig, logger: Logger): Promise<AdminListener | undefined> {
  if (config.adminPort < 0) return undefined
  const { createAdminHandler } = await import('@wren/observability')
  const handler = createAdminHandler({ broker, ...(config.adminToken === undefined ? {} : { token: config.adminToken }) })
  const server = createServer(handler)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.adminPort, config.adminHost, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const url = `http://${urlHost(config.adminHost)}:${(server.address() as AddressInfo).port}`
  logger.info({ url, token: config.adminToken !== undefined }, `admin API, metrics and dashboard on ${url}`)
  return {
    url,
    close() {
      handler.close()
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

import type { Broker, ClientInfo } from '@wren/core'
import type { Logger } from 'pino'

/** Denied actions logged per action and window; a flood (a misconfigured fleet, a scan) costs a summary line. */
const DENIED_PER_WINDOW = 10
const WINDOW_MS = 10_000

function address(client: ClientInfo): string | undefined {
  const { remoteAddress, remotePort } = client.meta
  if (remoteAddress === undefined) return undefined
  return remotePort === undefined ? remoteAddress : `${remoteAddress.includes(':') ? `[${remoteAddress}]` : remoteAddress}:${remotePort}`
}

/** Counts log lines in fixed windows: lets the first `max` of a window through and reports the rest when it ends. */
class LogBudget {
  private windowStart = 0
  private used = 0
  private suppressed = 0

  constructor(private readonly onSuppressed: (count: number) => void) {}

  take(now: number): boolean {
    if (now - this.windowStart >= WINDOW_MS) {
      if (this.suppressed > 0) this.onSuppressed(this.suppressed)
      this.windowStart = now
      this.used = 0
      this.suppressed = 0
    }
    if (this.used < DENIED_PER_WINDOW) {
      this.used++
      return true
    }
    this.suppressed++
    return false
  }
}

/**
 * Every connect and disconnect at info, as Mosquitto logs them at notice by default: who (client id, user name),
 * from where (address, transport), how (protocol version, keepalive, session expiry) and, on disconnect, why.
 * Connections come and go far less often than messages; `--log-level warn` leaves them out. Denied connects,
 * publishes and subscribes are warnings, at most `DENIED_PER_WINDOW` per action in `WINDOW_MS`.
 */
export function logClientActivity(broker: Broker, logger: Logger): void {
  broker.on('clientConnected', (client) => {
    const details = broker.admin.client(client.id)
    logger.info(
      {
        clientId: client.id,
        username: client.username,
        address: address(client),
        transport: client.meta.transport,
        protocolVersion: client.protocolVersion,
        keepalive: details?.keepalive,
        sessionExpiry: details?.sessionExpiryInterval,
      },
      'client connected',
    )
  })
  broker.on('clientDisconnected', (client, reason) =>
    logger.info({ clientId: client.id, username: client.username, address: address(client), transport: client.meta.transport, reason }, 'client disconnected'),
  )
  const budgets = new Map<string, LogBudget>()
  broker.on('denied', (client, action, detail, reasonCode, reason) => {
    let budget = budgets.get(action)
    if (!budget) {
      budget = new LogBudget((count) => logger.warn({ action, suppressed: count }, `${count} more denied ${action} attempts not logged`))
      budgets.set(action, budget)
    }
    if (!budget.take(Date.now())) return
    const what = action === 'connect' ? { username: detail || undefined } : action === 'publish' ? { topic: detail } : { filter: detail }
    logger.warn({ clientId: client.id, address: address(client), action, ...what, reasonCode, reason }, `${action} denied`)
  })
}

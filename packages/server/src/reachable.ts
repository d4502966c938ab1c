import { connect } from 'node:net'
import { StartupError } from './config-error.js'
import { redactUrl } from './start-summary.js'

const PROBE_TIMEOUT_MS = 5000
const REDIS_PORT = 6379

/**
 * Fails with one line naming `url` when nothing accepts connections there, before a Redis client is made:
 * its own retries would otherwise print their noise and leave the cause to guess.
 */
export async function assertRedisReachable(url: string, purpose: string): Promise<void> {
  const { hostname, port } = new URL(url)
  const host = hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host, port: Number(port) || REDIS_PORT, timeout: PROBE_TIMEOUT_MS })
    const fail = (reason: string): void => {
      socket.destroy()
      reject(new StartupError(`cannot reach Redis at ${redactUrl(url)} (${purpose}): ${reason}`))
    }
    socket.once('connect', () => {
      socket.destroy()
      resolve()
    })
    socket.once('timeout', () => fail(`no answer within ${PROBE_TIMEOUT_MS} ms`))
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const reasons: Record<string, string> = {
        ECONNREFUSED: 'connection refused (is redis-server running?)',
        ENOTFOUND: `unknown host ${host}`,
        EHOSTUNREACH: 'host unreachable',
      }
      fail(reasons[error.code ?? ''] ?? error.message)
    })
  })
}

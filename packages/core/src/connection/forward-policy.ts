import type { BrokerCore } from '../core.js'
import type { ClientInfo } from '../hooks/hook-types.js'
import type { Message } from '../types.js'

/**
 * The `authorizeForward` chain for one delivery: the message to send this client (the same, or one a hook rewrote
 * for it), or null when it must not get it. Synchronous, since it runs per delivery: a hook that answers with a
 * promise, or throws, denies.
 */
export function forwardedMessage(core: BrokerCore, client: ClientInfo, message: Message): Message | null {
  let forwarded = message
  for (const hook of core.hooks.authorizeForward) {
    let verdict
    try {
      verdict = hook(client, forwarded)
    } catch (error) {
      core.logger.warn({ clientId: client.id, err: error }, 'authorizeForward threw: delivery denied')
      return denied(core)
    }
    if (verdict === false || verdict === null) return denied(core)
    if (typeof verdict === 'object') {
      if (typeof (verdict as { then?: unknown }).then === 'function') {
        core.logger.error({ clientId: client.id }, 'authorizeForward must answer synchronously: delivery denied')
        return denied(core)
      }
      forwarded = verdict
    }
  }
  return forwarded
}

function denied(core: BrokerCore): null {
  core.stats.authorizationDenied.forward++
  core.stats.dropped.notAuthorized++
  return null
}

import type { BrokerCore } from '../core.js'
import type { Message } from '../types.js'

const EMPTY = Buffer.alloc(0)

/**
 * Stores a retained message unless that would take the store over `maxRetainedMessages` or
 * `maxRetainedBytes` (0 = no cap): the message is then routed as usual but not kept, and a retained message
 * its topic had is cleared (it is no longer the last one published there). Clearing is always allowed.
 */
export async function storeRetained(ctx: BrokerCore, message: Message): Promise<void> {
  const { maxRetainedMessages: maxCount, maxRetainedBytes: maxBytes } = ctx.options
  const persistence = ctx.persistence
  if ((maxCount > 0 || maxBytes > 0) && message.payload.length > 0) {
    const [previous] = await persistence.retainedMatch(message.topic)
    const overCount = maxCount > 0 && previous === undefined && (await persistence.retainedCount()) >= maxCount
    const overBytes = maxBytes > 0 && (await persistence.retainedBytes()) - (previous?.payload.length ?? 0) + message.payload.length > maxBytes
    if (overCount || overBytes) {
      ctx.stats.messagesDropped++
      const limit = overCount ? { maxRetainedMessages: maxCount } : { maxRetainedBytes: maxBytes }
      ctx.logger.warn({ topic: message.topic, ...limit }, `retained message not stored: ${overCount ? 'maxRetainedMessages' : 'maxRetainedBytes'} reached`)
      if (previous !== undefined) await persistence.retainedStore({ ...message, payload: EMPTY })
      return
    }
  }
  return persistence.retainedStore(message)
}

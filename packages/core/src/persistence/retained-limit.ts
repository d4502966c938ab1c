import type { BrokerCore } from '../core.js'
import type { Message } from '../types.js'

/**
 * Stores a retained message unless that would take the store over `maxRetainedMessages` (0 = no cap): a
 * message for a topic that has none yet is then routed as usual but not kept. Replacing or clearing a
 * topic's retained message is always allowed.
 */
export async function storeRetained(ctx: BrokerCore, message: Message): Promise<void> {
  const max = ctx.options.maxRetainedMessages
  if (max > 0 && message.payload.length > 0) {
    const persistence = ctx.persistence
    if ((await persistence.retainedCount()) >= max && (await persistence.retainedMatch(message.topic)).length === 0) {
      ctx.stats.messagesDropped++
      ctx.logger.warn({ topic: message.topic, maxRetainedMessages: max }, 'retained message not stored: maxRetainedMessages reached')
      return
    }
  }
  return ctx.persistence.retainedStore(message)
}

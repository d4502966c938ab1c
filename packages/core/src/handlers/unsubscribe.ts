import type { UnsubscribeRequest } from '../connection/subscription-packets.js'
import type { PacketHandler } from './handler.js'
import { ReasonCode, malformed } from '../errors.js'
import { Slices, readFilters } from './slices.js'

/**
 * UNSUBSCRIBE: every filter is read and checked first (a malformed one refuses the whole packet), then each is
 * removed, in slices as SUBSCRIBE is; UNSUBACK (v5: a code per filter, 0x11 when none existed).
 */
export const handleUnsubscribe: PacketHandler = (ctx, connection, packet, done) => {
  const unsubscribe = packet as UnsubscribeRequest
  const session = connection.session
  if (!session) return done()
  const run = async (): Promise<void> => {
    const slices = new Slices()
    const filters = unsubscribe.unsubscriptions
    const violation = await readFilters(unsubscribe.filters, filters, slices)
    if (connection.session !== session) return
    if (violation) return connection.fail(violation)
    if (filters.length === 0) return connection.fail(malformed('UNSUBSCRIBE without topic filters')) // [MQTT-3.10.3-2]
    const codes: number[] = []
    const removed: string[] = []
    for (const filter of filters) {
      if (slices.due) {
        await slices.next()
        // Closed or taken over meanwhile: the session's subscriptions are no longer this packet's to change.
        if (connection.session !== session) break
      }
      // [MQTT-3.10.4-1] compared character by character with the filters the session holds
      const existed = session.unsubscribe(filter)
      if (existed) {
        ctx.router.remove(session.clientId, filter)
        ctx.cluster?.announceUnsubscription(session.clientId, filter)
        removed.push(filter)
      }
      codes.push(existed ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted)
    }
    const stored = session.persistent || (ctx.cluster !== undefined && connection.session === session)
    if (stored && removed.length > 0) {
      await ctx.persistence.subscriptionsRemove(session.clientId, removed).catch((error: unknown) => {
        ctx.logger.error({ clientId: session.clientId, err: error }, 'unsubscribe could not be stored')
      })
    }
    // [MQTT-3.10.4-4] [MQTT-3.10.4-5] UNSUBACK even when nothing was subscribed
    if (connection.isOpen) connection.writePacket({ cmd: 'unsuback', messageId: unsubscribe.messageId ?? 0, granted: connection.protocolVersion === 5 ? codes : [] })
    if (removed.length > 0) ctx.events.emit('unsubscribed', connection.client, removed, unsubscribe.properties?.userProperties)
  }
  run().then(done, (error: unknown) => {
    ctx.logger.error({ clientId: session.clientId, err: error }, 'unsubscribe failed')
    connection.close('internal-error', ReasonCode.UnspecifiedError)
    done()
  })
}

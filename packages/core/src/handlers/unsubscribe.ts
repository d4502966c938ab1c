import type { IUnsubscribePacket } from 'mqtt-packet'
import type { PacketHandler } from './handler.js'
import { ReasonCode, malformed } from '../errors.js'

/** UNSUBSCRIBE: removes each filter; UNSUBACK (v5: a code per filter, 0x11 when none existed). */
export const handleUnsubscribe: PacketHandler = (ctx, connection, packet, done) => {
  const unsubscribe = packet as IUnsubscribePacket
  const session = connection.session
  if (!session) return done()
  if (unsubscribe.unsubscriptions.length === 0) {
    connection.fail(malformed('UNSUBSCRIBE without topic filters')) // [MQTT-3.10.3-2]
    return done()
  }
  const codes: number[] = []
  const removed: string[] = []
  for (const filter of unsubscribe.unsubscriptions) {
    const existed = session.unsubscribe(filter)
    if (existed) {
      ctx.router.remove(session.clientId, filter)
      ctx.cluster?.announceUnsubscription(session.clientId, filter)
      removed.push(filter)
    }
    codes.push(existed ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted)
  }
  const reply = (): void => {
    // [MQTT-3.10.4-4] [MQTT-3.10.4-5] UNSUBACK even when nothing was subscribed
    if (connection.protocolVersion === 5) connection.writePacket({ cmd: 'unsuback', messageId: unsubscribe.messageId ?? 0, granted: codes })
    else connection.writePacket({ cmd: 'unsuback', messageId: unsubscribe.messageId ?? 0, granted: [] })
    if (removed.length > 0) ctx.events.emit('unsubscribed', connection.client, removed)
    done()
  }
  if ((!session.persistent && !ctx.cluster) || removed.length === 0) return reply()
  ctx.persistence.subscriptionsRemove(session.clientId, removed).then(reply, (error: unknown) => {
    ctx.logger.error({ clientId: session.clientId, err: error }, 'unsubscribe could not be stored')
    reply()
  })
}

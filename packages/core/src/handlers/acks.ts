import type { IPubackPacket, IPubcompPacket, IPubrecPacket, IPubrelPacket } from 'mqtt-packet'
import type { PacketHandler } from './handler.js'
import { ReasonCode } from '../errors.js'

/** PUBACK: the client has a QoS 1 message; the next queued one may go. */
export const handlePuback: PacketHandler = (_ctx, connection, packet, done) => {
  connection.session?.acknowledge((packet as IPubackPacket).messageId ?? 0)
  done()
}

/** PUBREC: answer PUBREL; a v5 PUBREC with an error code ends that delivery [MQTT-4.3.3-4]. */
export const handlePubrec: PacketHandler = (_ctx, connection, packet, done) => {
  const pubrec = packet as IPubrecPacket
  const packetId = pubrec.messageId ?? 0
  const session = connection.session
  if (session) {
    if ((pubrec.reasonCode ?? 0) >= 0x80) session.abandon(packetId)
    else if (!session.received(packetId)) {
      connection.writeAck('pubrel', packetId, connection.protocolVersion === 5 ? ReasonCode.PacketIdentifierNotFound : 0)
    }
  }
  done()
}

/** PUBREL: the inbound QoS 2 exchange ends; the id may be reused by the client [MQTT-4.3.3-10]. */
export const handlePubrel: PacketHandler = (_ctx, connection, packet, done) => {
  const packetId = (packet as IPubrelPacket).messageId ?? 0
  const session = connection.session
  let known = false
  if (session) {
    known = session.incoming.delete(packetId) || session.restoredFromStore
    if (known && session.persistent) session.store?.push({ kind: 'incoming-remove', packetId })
  }
  connection.writeAck('pubcomp', packetId, known || connection.protocolVersion !== 5 ? 0 : ReasonCode.PacketIdentifierNotFound)
  done()
}

/** PUBCOMP: a QoS 2 delivery is complete. */
export const handlePubcomp: PacketHandler = (_ctx, connection, packet, done) => {
  connection.session?.completed((packet as IPubcompPacket).messageId ?? 0)
  done()
}

import type { IAuthPacket, IDisconnectPacket } from 'mqtt-packet'
import type { PacketHandler } from '../connection/connection.js'
import { PINGRESP } from '../connection/packet-encoder.js'
import { ReasonCode, protocolError } from '../errors.js'

/** PINGREQ: PINGRESP [MQTT-3.12.4-1]; any packet already refreshed the keepalive timer. */
export const handlePingreq: PacketHandler = (connection, _packet, done) => {
  connection.writeBuffer(PINGRESP)
  done()
}

/** DISCONNECT: a clean goodbye discards the will [MQTT-3.14.4-3], unless v5 asks for it (0x04). */
export const handleDisconnect: PacketHandler = (connection, packet, done) => {
  const disconnect = packet as IDisconnectPacket
  const session = connection.session
  const expiry = disconnect.properties?.sessionExpiryInterval
  if (connection.protocolVersion === 5 && expiry !== undefined && session) {
    if (session.expiryInterval === 0 && expiry > 0) {
      connection.fail(protocolError('session expiry cannot be set on DISCONNECT when CONNECT had 0')) // [MQTT-3.14.2-2]
      return done()
    }
    session.expiryInterval = Math.min(expiry, connection.ctx.options.maxSessionExpiryInterval)
  }
  connection.graceful = disconnect.reasonCode !== ReasonCode.DisconnectWithWill
  connection.close('disconnect')
  done()
}

/** AUTH outside an enhanced-authentication exchange is a protocol error. */
export const handleAuth: PacketHandler = (connection, packet, done) => {
  const auth = packet as IAuthPacket
  connection.fail(protocolError(`unexpected AUTH (reason ${auth.reasonCode})`))
  done()
}

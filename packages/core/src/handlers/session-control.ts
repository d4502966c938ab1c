import type { IAuthPacket, IDisconnectPacket } from 'mqtt-packet'
import type { PacketHandler } from './handler.js'
import { PINGRESP } from '../connection/packet-encoder.js'
import { ReasonCode, protocolError } from '../errors.js'
import { exchangeStep } from './connect.js'

/** PINGREQ: PINGRESP [MQTT-3.12.4-1]; any packet already refreshed the keepalive timer. */
export const handlePingreq: PacketHandler = (_ctx, connection, _packet, done) => {
  connection.writeBuffer(PINGRESP)
  done()
}

/** DISCONNECT: a clean goodbye discards the will [MQTT-3.14.4-3], unless v5 asks for it (0x04). */
export const handleDisconnect: PacketHandler = (ctx, connection, packet, done) => {
  const disconnect = packet as IDisconnectPacket
  const session = connection.session
  const expiry = disconnect.properties?.sessionExpiryInterval
  if (connection.protocolVersion === 5 && expiry !== undefined && session) {
    if (session.expiryInterval === 0 && expiry > 0) {
      connection.fail(protocolError('session expiry cannot be set on DISCONNECT when CONNECT had 0')) // [MQTT-3.14.2-2]
      return done()
    }
    session.expiryInterval = Math.min(expiry, ctx.options.maxSessionExpiryInterval)
  }
  // [MQTT-3.1.2-10] only a normal disconnection (0x00) discards the will
  connection.graceful = (disconnect.reasonCode ?? ReasonCode.Success) === ReasonCode.Success
  connection.goodbyeProperties = disconnect.properties?.userProperties
  connection.close('disconnect')
  done()
}

/**
 * AUTH: the next step of an enhanced-authentication exchange, or a re-authentication request (0x19)
 * on an established connection with the method it connected with [MQTT-4.12.1-1].
 */
export const handleAuth: PacketHandler = (ctx, connection, packet, done) => {
  const auth = packet as IAuthPacket
  const method = auth.properties?.authenticationMethod
  const reasonCode = auth.reasonCode
  const expected = connection.state === 'authenticating' ? ReasonCode.ContinueAuthentication : undefined
  const valid =
    connection.authMethod !== undefined &&
    method === connection.authMethod &&
    (expected !== undefined
      ? reasonCode === expected
      : connection.state === 'connected' && (reasonCode === ReasonCode.ReAuthenticate || (reasonCode === ReasonCode.ContinueAuthentication && connection.authStep > 0)))
  if (!valid) {
    connection.fail(protocolError(`unexpected AUTH (reason ${reasonCode})`))
    return done()
  }
  if (reasonCode === ReasonCode.ReAuthenticate) connection.authStep = 0
  exchangeStep(ctx, connection, auth.properties?.authenticationData, connection.state === 'connected').then(done, (error: unknown) => {
    ctx.logger.error({ clientId: connection.client.id, err: error }, 'authentication exchange failed')
    connection.close('internal-error', ReasonCode.UnspecifiedError)
    done()
  })
}

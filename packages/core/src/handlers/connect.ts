import type { IConnackPacket, IConnectPacket } from 'mqtt-packet'
import type { Connection, PacketHandler } from '../connection/connection.js'
import { OutboundAliases } from '../connection/publish-v5.js'
import { generateId } from '../context.js'
import { ReasonCode, connackCodeForV3, malformed, protocolError } from '../errors.js'
import type { AuthenticateResult, Verdict } from '../hooks/hook-types.js'
import { denialOf, runChainAsync } from '../hooks/hook-runner.js'
import { topicNameProblem } from '../topic/topic-rules.js'
import type { Message, ProtocolVersion, QoS } from '../types.js'
import { createMessage, messageProperties, toBuffer } from './message-from-packet.js'

const NEVER = 0xffffffff

/** CONNACK with a refusal, then close [MQTT-3.2.2-5]. */
function refuse(connection: Connection, reasonCode: number, reason: string): void {
  const packet: IConnackPacket =
    connection.protocolVersion === 5
      ? { cmd: 'connack', reasonCode, sessionPresent: false }
      : { cmd: 'connack', returnCode: connackCodeForV3(reasonCode), sessionPresent: false }
  connection.writePacket(packet)
  connection.ctx.logger.info({ clientId: connection.client.id || undefined, reasonCode, reason }, 'connection refused')
  connection.close('connect-refused')
}

function willFrom(packet: IConnectPacket, clientId: string): Message | undefined {
  const will = packet.will
  if (!will) return undefined
  const message = createMessage(will.topic, toBuffer(will.payload), (will.qos ?? 0) as QoS, will.retain === true, messageProperties(will.properties), clientId)
  // The will's expiry runs from its publication, not from CONNECT: keep the interval, drop the deadline.
  delete message.expiresAt
  return message
}

/**
 * CONNECT: validation, client id, hooks (preConnect, authenticate), session creation or takeover, CONNACK.
 * Packets behind it wait until this is done, so a SUBSCRIBE right after CONNECT sees the session.
 */
export const handleConnect: PacketHandler = (connection, packet, done) => {
  if (connection.state !== 'new') {
    connection.fail(protocolError('a second CONNECT on one connection')) // [MQTT-3.1.0-2]
    done()
    return
  }
  const ctx = connection.ctx
  const connect = packet as IConnectPacket
  const version = (connect.protocolVersion ?? 4) as ProtocolVersion
  connection.protocolVersion = version
  connection.state = 'connecting'

  // MQIsdp goes with level 3 only, MQTT with 4 and 5 [MQTT-3.1.2-1] [MQTT-3.1.2-2]
  if ((connect.protocolId === 'MQIsdp') !== (version === 3)) {
    refuse(connection, ReasonCode.UnsupportedProtocolVersion, 'protocol name does not match protocol level')
    done()
    return
  }
  if (version !== 5 && connect.password !== undefined && connect.username === undefined) {
    connection.fail(malformed('password without user name')) // [MQTT-3.1.2-22]
    done()
    return
  }
  if (connect.will && (connect.will.qos as number) === 3) {
    connection.fail(malformed('will QoS 3')) // [MQTT-3.1.2-14]
    done()
    return
  }
  let clientId = connect.clientId
  let assigned: string | undefined
  if (clientId === '') {
    // [MQTT-3.1.3-6] [MQTT-3.1.3-8]: an id is assigned only to a clean session (v5: always)
    if (version === 3 || (version === 4 && !connect.clean)) {
      refuse(connection, ReasonCode.ClientIdentifierNotValid, 'empty client id without clean session')
      done()
      return
    }
    clientId = assigned = generateId('wren-')
  }
  if (Buffer.byteLength(clientId) > ctx.options.maxClientIdLength) {
    refuse(connection, ReasonCode.ClientIdentifierNotValid, 'client id too long')
    done()
    return
  }
  connection.client.id = clientId
  const props = connect.properties
  if (version === 5 && props) {
    if (props.receiveMaximum === 0 || props.maximumPacketSize === 0) {
      connection.fail(protocolError('Receive Maximum and Maximum Packet Size must not be 0')) // [MQTT-3.1.2-21]
      done()
      return
    }
    if (props.receiveMaximum !== undefined) connection.clientReceiveMaximum = props.receiveMaximum
    if (props.maximumPacketSize !== undefined) connection.clientMaximumPacketSize = props.maximumPacketSize
    if (props.topicAliasMaximum) connection.outboundAliases = new OutboundAliases(props.topicAliasMaximum)
  }
  const will = willFrom(connect, clientId)
  if (will) {
    const problem = topicNameProblem(will.topic, ctx.topicLimits)
    if (problem) {
      if (version === 5) refuse(connection, ReasonCode.TopicNameInvalid, `will topic: ${problem}`)
      else connection.fail(malformed(`will topic: ${problem}`))
      done()
      return
    }
    if (will.retain && !ctx.options.retainAvailable) {
      refuse(connection, ReasonCode.RetainNotSupported, 'will retain is not available')
      done()
      return
    }
    if (will.qos > ctx.options.maxQos) {
      refuse(connection, ReasonCode.QoSNotSupported, 'will QoS above the maximum')
      done()
      return
    }
  }
  let expiryInterval = version === 5 ? (props?.sessionExpiryInterval ?? 0) : connect.clean ? 0 : NEVER
  const expiryCapped = expiryInterval > ctx.options.maxSessionExpiryInterval
  if (expiryCapped) expiryInterval = ctx.options.maxSessionExpiryInterval
  let keepalive = connect.keepalive ?? 0
  const maxKeepalive = ctx.options.maxKeepalive
  const keepaliveCapped = version === 5 && maxKeepalive > 0 && (keepalive === 0 || keepalive > maxKeepalive)
  if (keepaliveCapped) keepalive = maxKeepalive

  const request = {
    clientId,
    username: connect.username,
    password: connect.password,
    keepalive,
    clean: connect.clean !== false,
    protocolVersion: version,
    will,
  }

  ctx.sessions
    .exclusive(clientId, async () => {
      if (ctx.closing) return refuse(connection, ReasonCode.ServerUnavailable, 'broker is closing')
      if (ctx.sessions.connectedCount >= ctx.options.maxConnections && !ctx.sessions.online.has(clientId)) {
        return refuse(connection, ReasonCode.ServerBusy, 'maximum connections reached')
      }
      let verdict: Verdict
      try {
        verdict = await runChainAsync(ctx.hooks.preConnect, (hook) => hook(connection.client, request))
      } catch (error) {
        ctx.logger.warn({ clientId, err: error }, 'preConnect hook failed: connection refused')
        verdict = false
      }
      const preDenied = denialOf(verdict, ReasonCode.NotAuthorized)
      if (preDenied !== undefined) return refuse(connection, preDenied, 'refused by preConnect')

      let auth: AuthenticateResult
      try {
        auth = await runChainAsync(ctx.hooks.authenticate, (hook) =>
          hook(connection.client, {
            clientId,
            username: connect.username,
            password: connect.password,
            certificate: connection.client.meta.certificate,
          }),
        )
      } catch (error) {
        ctx.logger.warn({ clientId, err: error }, 'authenticate hook failed: connection refused')
        auth = false
      }
      const authDenied = denialOf(auth, ReasonCode.BadUserNameOrPassword)
      if (authDenied !== undefined) return refuse(connection, authDenied, 'refused by authenticate')
      if (typeof auth === 'object' && auth !== null && auth.ok) {
        if ('data' in auth && auth.data) Object.assign(connection.client.data, auth.data)
      }
      if (!connection.isOpen) return

      const { session, present } = await ctx.sessions.open(connection, {
        clientId,
        clean: request.clean,
        expiryInterval,
        protocolVersion: version,
      })
      if (!connection.isOpen) {
        ctx.sessions.closed(connection)
        return
      }
      if (will) {
        connection.will = will
        connection.willDelayInterval = connect.will?.properties?.willDelayInterval ?? 0
        await ctx.persistence.willPut({ clientId, brokerId: ctx.id, message: will, delayInterval: connection.willDelayInterval })
      }
      connection.connected({ clientId, username: connect.username, protocolVersion: version, keepalive })
      connection.writePacket(connackFor(connection, present, { assigned, expiryCapped, expiryInterval, keepaliveCapped, keepalive }))
      ctx.stats.clientConnected()
      ctx.stats.clientsTotal++
      ctx.events.emit('clientConnected', connection.client)
      session.resume(connection)
    })
    .then(done, (error: unknown) => {
      ctx.logger.error({ clientId, err: error }, 'connect failed')
      if (connection.isOpen && connection.state !== 'connected') refuse(connection, ReasonCode.ServerUnavailable, 'internal error')
      else connection.close('internal-error', ReasonCode.UnspecifiedError)
      done()
    })
}

interface ConnackExtras {
  assigned: string | undefined
  expiryCapped: boolean
  expiryInterval: number
  keepaliveCapped: boolean
  keepalive: number
}

function connackFor(connection: Connection, present: boolean, extras: ConnackExtras): IConnackPacket {
  // [MQTT-3.2.2-1] [MQTT-3.2.2-2] session present reflects whether state was resumed
  if (connection.protocolVersion !== 5) return { cmd: 'connack', returnCode: 0, sessionPresent: present }
  const options = connection.ctx.options
  const properties: NonNullable<IConnackPacket['properties']> = {
    receiveMaximum: options.receiveMaximum,
    topicAliasMaximum: options.topicAliasMaximum,
    wildcardSubscriptionAvailable: true,
    subscriptionIdentifiersAvailable: true,
    sharedSubscriptionAvailable: true,
  }
  if (options.maxQos < 2) properties.maximumQoS = options.maxQos
  if (!options.retainAvailable) properties.retainAvailable = false
  if (options.maxPacketSize < 268_435_455) properties.maximumPacketSize = options.maxPacketSize
  if (extras.assigned) properties.assignedClientIdentifier = extras.assigned
  if (extras.expiryCapped) properties.sessionExpiryInterval = extras.expiryInterval
  if (extras.keepaliveCapped) properties.serverKeepAlive = extras.keepalive
  return { cmd: 'connack', reasonCode: 0, sessionPresent: present, properties }
}

import type { IConnackPacket, IConnectPacket } from 'mqtt-packet'
import { isUtf8 } from 'node:buffer'
import type { Connection } from '../connection/connection.js'
import type { BrokerContext } from '../context.js'
import type { PacketHandler } from './handler.js'
import { encodePacket } from '../connection/packet-encoder.js'
import type { PendingConnect } from '../connection/pending-connect.js'
import { OutboundAliases } from '../connection/publish-v5.js'
import { redirectReference } from '../connection/server-reference.js'
import { ReasonCode, connackCodeForV3, malformed, protocolError } from '../errors.js'
import type { AuthExchangeResult, AuthenticateResult, Denial, PublishVerdict, Verdict } from '../hooks/hook-types.js'
import { denialOf, denialReason, runChainAsync } from '../hooks/hook-runner.js'
import { generateId } from '../ids.js'
import { hasWildcard, isBridgeStateTopic, isSysTopic, topicNameProblem } from '../topic/topic-rules.js'
import type { Session } from '../session/session.js'
import type { Message, ProtocolVersion, QoS } from '../types.js'
import { createMessage, messageProperties, toBuffer } from './message-from-packet.js'

const NEVER = 0xffffffff

/** The MQTT 3.1.1 and 3.1 CONNACKs that accept, the same four bytes for every client: encoded once, written as they are. */
const CONNACK_ACCEPTED = Buffer.from([0x20, 0x02, 0x00, 0x00])
const CONNACK_ACCEPTED_PRESENT = Buffer.from([0x20, 0x02, 0x01, 0x00])

/** CONNACK with a refusal, then close [MQTT-3.2.2-5]. */
function refuse(connection: Connection, reasonCode: number, reason: string, serverReference?: string): void {
  const packet: IConnackPacket =
    connection.protocolVersion === 5
      ? { cmd: 'connack', reasonCode, sessionPresent: false }
      : { cmd: 'connack', returnCode: connackCodeForV3(reasonCode), sessionPresent: false }
  if (connection.protocolVersion === 5) {
    // A Reason String is allowed on CONNACK whatever Request Problem Information says [MQTT-3.1.2-29]
    const reference = serverReference ?? redirectReference(connection.ctx.options, reasonCode)
    const reasonString = connection.ctx.options.reasonStrings ? { reasonString: reason } : {}
    packet.properties = reference === undefined ? reasonString : { ...reasonString, serverReference: reference }
  }
  writeConnack(connection, packet)
  connection.ctx.logger.info({ clientId: connection.client.id || undefined, reasonCode, reason }, 'connection refused')
  connection.close('connect-refused')
}

/**
 * Writes a CONNACK that fits the client's Maximum Packet Size [MQTT-3.1.2-24]: Reason String and User
 * Properties are the parts that may be left out for it [MQTT-3.2.2-19] [MQTT-3.2.2-20]. Returns false (nothing
 * sent) when even the rest does not fit.
 */
function writeConnack(connection: Connection, packet: IConnackPacket): boolean {
  let bytes = encodePacket(packet, connection.protocolVersion)
  if (bytes.length > connection.clientMaximumPacketSize && packet.properties) {
    const { reasonString: _reason, userProperties: _user, ...rest } = packet.properties
    bytes = encodePacket({ ...packet, properties: rest }, connection.protocolVersion)
  }
  if (bytes.length > connection.clientMaximumPacketSize) {
    connection.ctx.logger.info({ clientId: connection.client.id || undefined, size: bytes.length }, 'CONNACK larger than the client Maximum Packet Size: connection closed')
    return false
  }
  connection.writeBuffer(bytes)
  return true
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
export const handleConnect: PacketHandler = (ctx, connection, packet, done) => {
  if (connection.state !== 'new') {
    connection.fail(protocolError('a second CONNECT on one connection')) // [MQTT-3.1.0-2]
    done()
    return
  }
  const connect = packet as IConnectPacket
  const version = (connect.protocolVersion ?? 4) as ProtocolVersion
  connection.useProtocol(version)
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
  connection.client.username = connect.username
  // mqtt-packet reports protocol level 0x83/0x84 as 3/4 with bridgeMode (Mosquitto's try_private)
  connection.client.bridge = (connect as IConnectPacket & { bridgeMode?: boolean }).bridgeMode === true
  const props = connect.properties
  if (version === 5 && props) {
    if (props.receiveMaximum === 0 || props.maximumPacketSize === 0) {
      connection.fail(protocolError('Receive Maximum and Maximum Packet Size must not be 0')) // [MQTT-3.1.2-21]
      done()
      return
    }
    if (props.receiveMaximum !== undefined) connection.clientReceiveMaximum = props.receiveMaximum
    if (props.maximumPacketSize !== undefined) connection.clientMaximumPacketSize = props.maximumPacketSize
    if (props.topicAliasMaximum) connection.outboundAliases = new OutboundAliases(props.topicAliasMaximum, ctx.options.maxTopicAliasBytes)
    if (props.requestProblemInformation === false) connection.requestProblemInformation = false
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
    const willProperties = will.properties
    if (willProperties?.responseTopic !== undefined && (willProperties.responseTopic === '' || hasWildcard(willProperties.responseTopic))) {
      connection.fail(protocolError('will response topic must be a topic name')) // as for PUBLISH [MQTT-3.3.2-14]
      done()
      return
    }
    if (willProperties?.payloadFormatIndicator === true && !isUtf8(will.payload)) {
      refuse(connection, ReasonCode.PayloadFormatInvalid, 'will payload is not UTF-8') // §3.1.3.2.3, as for PUBLISH [MQTT-3.3.2-4]
      done()
      return
    }
    if (isSysTopic(will.topic) && !(connection.client.bridge && isBridgeStateTopic(will.topic))) {
      refuse(connection, ReasonCode.NotAuthorized, 'will topic in $SYS')
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

  const pending: PendingConnect = {
    request: {
      clientId,
      username: connect.username,
      password: connect.password,
      keepalive,
      clean: connect.clean !== false,
      protocolVersion: version,
      will,
      userProperties: props?.userProperties,
    },
    willDelayInterval: connect.will?.properties?.willDelayInterval ?? 0,
    extras: { assigned, expiryCapped, expiryInterval, keepaliveCapped, keepalive, authMethod: undefined, authData: undefined },
    requestResponseInformation: props?.requestResponseInformation === true,
  }
  const method = version === 5 ? props?.authenticationMethod : undefined
  if (method !== undefined) {
    connection.authMethod = method
    pending.extras.authMethod = method
  }
  admit(ctx, connection, pending, props?.authenticationData).then(done, (error: unknown) => {
    ctx.logger.error({ clientId, err: error }, 'connect failed')
    if (connection.isOpen && connection.state !== 'connected') refuse(connection, ReasonCode.ServerUnavailable, 'internal error')
    else connection.close('internal-error', ReasonCode.UnspecifiedError)
    done()
  })
}

function referenceOf(verdict: unknown): string | undefined {
  return typeof verdict === 'object' && verdict !== null ? (verdict as Denial).serverReference : undefined
}

/** preConnect, then authentication (plain, or the first step of an AUTH exchange), then the session. */
async function admit(ctx: BrokerContext, connection: Connection, pending: PendingConnect, authData: Buffer | undefined): Promise<void> {
  const { clientId } = pending.request
  // Streams may be handed over before persisted state is loaded: admission waits for it.
  if (!ctx.started) await ctx.ready
  if (ctx.closing) return refuse(connection, ReasonCode.ServerUnavailable, 'broker is closing')
  if (ctx.sessions.connectedCount >= ctx.options.maxConnections && !ctx.sessions.online.has(clientId)) {
    return refuse(connection, ReasonCode.ServerBusy, 'maximum connections reached')
  }
  // An empty chain allows: no promise and no closure for it.
  let verdict: Verdict = undefined
  if (ctx.hooks.preConnect.length > 0) {
    try {
      verdict = await runChainAsync(ctx.hooks.preConnect, (hook) => hook(connection.client, pending.request))
    } catch (error) {
      ctx.logger.warn({ clientId, err: error }, 'preConnect hook failed: connection refused')
      verdict = false
    }
  }
  const preDenied = denialOf(verdict, ReasonCode.NotAuthorized)
  if (preDenied !== undefined) return refuse(connection, preDenied, 'refused by preConnect', referenceOf(verdict))

  if (connection.authMethod !== undefined) {
    if (ctx.hooks.authenticateExchange.length === 0) {
      return refuse(connection, ReasonCode.BadAuthenticationMethod, `no hook for authentication method ${connection.authMethod}`)
    }
    connection.state = 'authenticating'
    connection.pendingConnect = pending
    return exchangeStep(ctx, connection, authData, false)
  }

  let auth: AuthenticateResult = undefined
  if (ctx.hooks.authenticate.length > 0) {
    try {
      auth = await runChainAsync(ctx.hooks.authenticate, (hook) =>
        hook(connection.client, {
          clientId,
          username: pending.request.username,
          password: pending.request.password,
          certificate: connection.client.meta.certificate,
        }),
      )
    } catch (error) {
      ctx.logger.warn({ clientId, err: error }, 'authenticate hook failed: connection refused')
      auth = false
    }
  }
  const authDenied = denialOf(auth, ReasonCode.BadUserNameOrPassword)
  if (authDenied !== undefined) {
    ctx.stats.authentication.failure++
    ctx.events.emit('denied', connection.client, 'connect', pending.request.username ?? '', authDenied, denialReason(auth))
    return refuse(connection, authDenied, 'refused by authenticate', referenceOf(auth))
  }
  ctx.stats.authentication.success++
  if (typeof auth === 'object' && auth !== null && auth.ok) {
    if (auth.data) Object.assign(connection.client.data, auth.data)
    // e.g. the CN of a client certificate standing in for a user name
    if (auth.username !== undefined) pending.request.username = connection.client.username = auth.username
  }
  return openSession(ctx, connection, pending)
}

/**
 * One step of an MQTT 5 AUTH exchange (§4.12), on CONNECT or later for re-authentication: the hook answers
 * continue (AUTH 0x18), success (CONNACK, or AUTH 0x00 when re-authenticating) or a denial.
 */
export async function exchangeStep(ctx: BrokerContext, connection: Connection, data: Buffer | undefined, reauthenticate: boolean): Promise<void> {
  const method = connection.authMethod as string
  const step = connection.authStep++
  let answer: AuthExchangeResult
  try {
    answer = await runChainAsync(ctx.hooks.authenticateExchange, (hook) => hook(connection.client, { method, data, step, reauthenticate }))
  } catch (error) {
    ctx.logger.warn({ clientId: connection.client.id, err: error }, 'authenticateExchange hook failed: denied')
    answer = { ok: false, reasonCode: ReasonCode.NotAuthorized }
  }
  if (!connection.isOpen) return
  if (answer === undefined) answer = { ok: false, reasonCode: ReasonCode.BadAuthenticationMethod }
  if (answer.ok === 'continue') {
    connection.writePacket({ cmd: 'auth', reasonCode: ReasonCode.ContinueAuthentication, properties: authProperties(method, answer.data) })
    return
  }
  if (answer.ok === false) {
    ctx.stats.authentication.failure++
    const code = answer.reasonCode ?? ReasonCode.NotAuthorized
    ctx.events.emit('denied', connection.client, 'connect', connection.client.username ?? '', code, answer.reason)
    if (reauthenticate) connection.close('reauthentication-failed', code) // [MQTT-4.12.1-2]
    else refuse(connection, code, 'refused by authenticateExchange')
    return
  }
  if (answer.clientData) Object.assign(connection.client.data, answer.clientData)
  ctx.stats.authentication.success++
  connection.authStep = 0
  if (reauthenticate) {
    connection.writePacket({ cmd: 'auth', reasonCode: ReasonCode.Success, properties: authProperties(method, answer.data) })
    return
  }
  const pending = connection.pendingConnect as PendingConnect
  connection.pendingConnect = null
  pending.extras.authData = answer.data
  await openSession(ctx, connection, pending)
}

function authProperties(method: string, data: Buffer | undefined): { authenticationMethod: string; authenticationData?: Buffer } {
  return data === undefined ? { authenticationMethod: method } : { authenticationMethod: method, authenticationData: data }
}

/**
 * The session part of admission, serialised per client id so two CONNECTs for one id never interleave.
 * A will goes through authorizePublish first: a client may not leave a will where it may not publish.
 */
function openSession(ctx: BrokerContext, connection: Connection, pending: PendingConnect): Promise<void> | void {
  if (pending.request.will && ctx.hooks.authorizePublish.length > 0) return openSessionWithWill(ctx, connection, pending, pending.request.will)
  return openSessionExclusive(ctx, connection, pending)
}

async function openSessionWithWill(ctx: BrokerContext, connection: Connection, pending: PendingConnect, will: Message): Promise<void> {
  let verdict: PublishVerdict
  try {
    verdict = await runChainAsync(ctx.hooks.authorizePublish, (hook) => hook(connection.client, will))
  } catch (error) {
    ctx.logger.warn({ clientId: connection.client.id, err: error }, 'authorizePublish failed for the will: connection refused')
    verdict = false
  }
  const denied = denialOf(verdict, ReasonCode.NotAuthorized)
  if (denied !== undefined) {
    ctx.stats.authorizationDenied.publish++
    ctx.events.emit('denied', connection.client, 'publish', will.topic, denied, denialReason(verdict))
    return refuse(connection, denied, 'will not authorized')
  }
  if (typeof verdict === 'object' && verdict !== null && verdict.ok && 'message' in verdict) pending.request.will = verdict.message
  return openSessionExclusive(ctx, connection, pending)
}

/**
 * Opens the session under the client id's lock; a clean session without a will that nothing needs to wait for
 * (see `SessionManager.openNow`) is opened and accepted at once, without a promise.
 */
function openSessionExclusive(ctx: BrokerContext, connection: Connection, pending: PendingConnect): Promise<void> | void {
  const { request, extras } = pending
  const { clientId, will } = request
  const open = { clientId, clean: request.clean, expiryInterval: extras.expiryInterval, protocolVersion: request.protocolVersion }
  if (will === undefined && connection.isOpen) {
    const session = ctx.sessions.openNow(connection, open)
    if (session) return accept(ctx, connection, pending, session, false)
  }
  return ctx.sessions.exclusive(clientId, async () => {
    if (!connection.isOpen) return
    if (extras.expiryInterval !== 0 && ctx.options.maxSessions !== 0 && (await overSessionCap(connection, clientId))) {
      return refuse(connection, ReasonCode.QuotaExceeded, 'maximum stored sessions reached')
    }
    const { session, present } = await ctx.sessions.open(connection, open)
    if (!connection.isOpen) {
      ctx.sessions.closed(connection)
      return
    }
    if (will) {
      connection.will = will
      connection.willDelayInterval = pending.willDelayInterval
      await ctx.persistence.willPut({ clientId, brokerId: ctx.id, message: will, delayInterval: pending.willDelayInterval })
    }
    accept(ctx, connection, pending, session, present)
  })
}

/** CONNACK, and the connection is connected to its open session. */
function accept(ctx: BrokerContext, connection: Connection, pending: PendingConnect, session: Session, present: boolean): void {
  const { request } = pending
  if (connection.protocolVersion !== 5) {
    // [MQTT-3.2.2-1] [MQTT-3.2.2-2] session present reflects whether state was resumed; in MQTT 3.1 that byte is reserved
    connection.writeBuffer(present && connection.protocolVersion === 4 ? CONNACK_ACCEPTED_PRESENT : CONNACK_ACCEPTED)
  } else if (!writeConnack(connection, connackFor(connection, present, pending))) {
    connection.close('connack-too-large')
    return
  }
  connection.connected({ clientId: request.clientId, username: request.username, protocolVersion: request.protocolVersion, keepalive: request.keepalive })
  ctx.stats.clientConnected()
  ctx.stats.clientsTotal++
  ctx.events.emit('clientConnected', connection.client)
  session.resume(connection)
}

/**
 * Whether this CONNECT, which asks for a session that outlives it while `maxSessions` is set, would store one
 * session more than that allows (a returning client never does).
 */
async function overSessionCap(connection: Connection, clientId: string): Promise<boolean> {
  const { options, persistence } = connection.ctx
  if ((await persistence.sessionGet(clientId)) !== undefined) return false
  return (await persistence.sessionCount()) >= options.maxSessions
}

/** The MQTT 5 CONNACK that accepts: its properties depend on the options and on this CONNECT. */
function connackFor(connection: Connection, present: boolean, pending: PendingConnect): IConnackPacket {
  const extras = pending.extras
  const options = connection.ctx.options
  // Properties whose absence means the value the broker has are left out (§3.2.2.3): fewer bytes per CONNACK.
  const properties: NonNullable<IConnackPacket['properties']> = {}
  if (options.receiveMaximum < 65535) properties.receiveMaximum = options.receiveMaximum
  if (options.topicAliasMaximum > 0) properties.topicAliasMaximum = options.topicAliasMaximum
  if (options.maxQos < 2) properties.maximumQoS = options.maxQos
  if (!options.retainAvailable) properties.retainAvailable = false
  if (options.maxPacketSize < 268_435_455) properties.maximumPacketSize = options.maxPacketSize
  if (extras.assigned) properties.assignedClientIdentifier = extras.assigned
  if (extras.expiryCapped) properties.sessionExpiryInterval = extras.expiryInterval
  if (extras.keepaliveCapped) properties.serverKeepAlive = extras.keepalive
  // [MQTT-3.1.2-28] Response Information only when the client asked for it
  if (pending.requestResponseInformation && options.responseInformation !== '') properties.responseInformation = options.responseInformation
  if (extras.authMethod !== undefined) {
    properties.authenticationMethod = extras.authMethod
    if (extras.authData !== undefined) properties.authenticationData = extras.authData
  }
  return { cmd: 'connack', reasonCode: 0, sessionPresent: present, properties }
}

import type { IPublishPacket } from 'mqtt-packet'
import { isUtf8 } from 'node:buffer'
import type { Connection } from '../connection/connection.js'
import type { BrokerContext } from '../context.js'
import type { PacketHandler } from './handler.js'
import { InboundAliases } from '../connection/inbound-aliases.js'
import { OrderedAcks, STORE_FAILED } from '../connection/ordered-acks.js'
import { joined, type SplitPayload, splitPayloadOf } from '../connection/split-payload.js'
import { ErrorCode, ProtocolViolation, ReasonCode, malformed, protocolError } from '../errors.js'
import { denialOf, denialReason, runChain } from '../hooks/hook-runner.js'
import type { PublishVerdict } from '../hooks/hook-types.js'
import { hasWildcard, isBridgeStateTopic, isSysTopic, topicNameProblem } from '../topic/topic-rules.js'
import type { OwnCopy } from '../router/distribute.js'
import type { Session } from '../session/session.js'
import type { Message, QoS } from '../types.js'
import { createMessage, messageProperties, toBuffer } from './message-from-packet.js'

/** Resolves an MQTT 5 topic alias (§3.3.2.3.4); undefined after failing the connection. */
function resolveTopic(connection: Connection, packet: IPublishPacket): string | undefined {
  const alias = packet.properties?.topicAlias
  if (alias === undefined || connection.protocolVersion !== 5) return packet.topic
  if (alias === 0 || alias > connection.ctx.options.topicAliasMaximum) {
    connection.fail(new ProtocolViolation(ErrorCode.TopicAliasInvalid, ReasonCode.TopicAliasInvalid, `topic alias ${alias} out of range`)) // [MQTT-3.3.2-8] [MQTT-3.3.2-9]
    return undefined
  }
  if (packet.topic.length > 0) {
    const aliases = (connection.inboundAliases ??= new InboundAliases(connection.ctx.options.maxTopicAliasBytes))
    if (!aliases.set(alias, packet.topic)) {
      connection.fail(new ProtocolViolation(ErrorCode.TopicAliasBytes, ReasonCode.QuotaExceeded, 'topic aliases hold more than maxTopicAliasBytes'))
      return undefined
    }
    return packet.topic
  }
  const topic = connection.inboundAliases?.get(alias)
  if (topic === undefined) connection.fail(protocolError(`unknown topic alias ${alias}`))
  return topic
}

/**
 * Acknowledges an inbound QoS 1/2 publish, with a v5 reason code (and reason) when it was not accepted: after the
 * acks of earlier PUBLISHes whose messages are still being stored, if any.
 */
function acknowledge(connection: Connection, qos: QoS, packetId: number, reasonCode: number, reason?: string): void {
  if (qos === 0) return
  const kind = qos === 1 ? 'puback' : 'pubrec'
  const acks = connection.inboundAcks
  if (acks === null) connection.writeAck(kind, packetId, reasonCode, reason)
  else acks.write(kind, packetId, reasonCode, reason)
}

/**
 * [MQTT-4.3.3-2] a resent QoS 2 PUBLISH of a message already routed: acknowledged again, not forwarded twice; it
 * is the same exchange, so it gives back the Receive Maximum slot its arrival took.
 */
function acknowledgeDuplicate(connection: Connection, packetId: number): void {
  connection.inboundQuota.release()
  acknowledge(connection, 2, packetId, 0)
}

/**
 * PUBLISH from a client: topic and property checks, exactly-once bookkeeping for QoS 2, authorizePublish,
 * routing, then the ack once routing has stored what must be durable.
 */
export const handlePublish: PacketHandler = (ctx, connection, packet, done) => {
  const publish = packet as IPublishPacket
  const qos = publish.qos
  const packetId = publish.messageId ?? 0
  const v5 = connection.protocolVersion === 5
  ctx.stats.publishReceived++
  if (qos > 0 && packetId === 0) {
    connection.fail(malformed('QoS 1/2 PUBLISH with packet identifier 0')) // [MQTT-2.3.1-1]
    return done()
  }

  const topic = resolveTopic(connection, publish)
  if (topic === undefined) return done()
  const problem = topicNameProblem(topic, ctx.topicLimits)
  if (problem) {
    // [MQTT-3.3.2-2] a topic name with wildcards (or otherwise invalid) ends the connection
    connection.fail(new ProtocolViolation(ErrorCode.TopicNameInvalid, ReasonCode.TopicNameInvalid, `invalid topic name: ${problem}`))
    return done()
  }
  if (qos > ctx.options.maxQos) {
    connection.fail(new ProtocolViolation(ErrorCode.QosNotSupported, ReasonCode.QoSNotSupported, `QoS ${qos} above the maximum`)) // [MQTT-3.3.1-4]
    return done()
  }
  if (publish.retain && !ctx.options.retainAvailable) {
    connection.fail(new ProtocolViolation(ErrorCode.RetainNotSupported, ReasonCode.RetainNotSupported, 'retain is not available')) // [MQTT-3.3.1-14]
    return done()
  }
  if (isSysTopic(topic) && !(connection.client.bridge && isBridgeStateTopic(topic))) {
    // The broker's own namespace: acknowledged (the client did nothing wrong on the wire) and dropped, so
    // nobody can forge broker statistics, retained or live.
    ctx.logger.debug({ clientId: connection.client.id, topic }, 'client publish to $SYS dropped')
    acknowledge(connection, qos, packetId, v5 ? ReasonCode.NotAuthorized : 0)
    return done()
  }
  const properties = v5 ? messageProperties(publish.properties) : undefined
  if (properties) {
    if (properties.responseTopic !== undefined && (properties.responseTopic === '' || hasWildcard(properties.responseTopic))) {
      connection.fail(protocolError('response topic must be a topic name')) // [MQTT-3.3.2-14]
      return done()
    }
    if (publish.properties?.subscriptionIdentifier !== undefined) {
      connection.fail(protocolError('a client must not send a subscription identifier in PUBLISH')) // [MQTT-3.3.4-6]
      return done()
    }
  }
  let payload: Buffer | SplitPayload = splitPayloadOf(publish) ?? toBuffer(publish.payload)
  // Checked whole: a character may span two reads.
  if (properties?.payloadFormatIndicator === true && !isUtf8((payload = joined(payload)))) {
    // [MQTT-3.3.2-4] the payload claims UTF-8 and is not
    if (qos === 0) connection.fail(new ProtocolViolation(ErrorCode.PayloadFormatInvalid, ReasonCode.PayloadFormatInvalid, 'payload is not UTF-8'))
    else acknowledge(connection, qos, packetId, ReasonCode.PayloadFormatInvalid)
    return done()
  }
  const message = createMessage(topic, payload, qos, publish.retain, properties, connection.client.id)
  const session = connection.session
  if (qos === 2 && session) {
    if (session.incoming.has(packetId)) {
      acknowledgeDuplicate(connection, packetId)
      return done()
    }
    if (session.restoredFromStore) {
      acceptUnlessSeen(ctx, connection, session, message, packetId, done)
      return
    }
  }
  accept(ctx, connection, message, packetId, done)
}

/** A QoS 2 PUBLISH on a session restored from the store: the store knows which packet ids were already routed. */
function acceptUnlessSeen(ctx: BrokerContext, connection: Connection, session: Session, message: Message, packetId: number, done: () => void): void {
  ctx.persistence.incomingHas(connection.client.id, packetId).then(
    (seen) => {
      if (seen) {
        session.incoming.add(packetId)
        acknowledgeDuplicate(connection, packetId)
        done()
      } else accept(ctx, connection, message, packetId, done)
    },
    () => accept(ctx, connection, message, packetId, done),
  )
}

function accept(ctx: BrokerContext, connection: Connection, message: Message, packetId: number, done: () => void): void {
  if (ctx.hooks.authorizePublish.length === 0) route(ctx, connection, message, packetId, done)
  else authorize(ctx, connection, message, packetId, done)
}

/** authorizePublish, then routing of what it allowed (or rewrote); a denied message is acknowledged and dropped. */
function authorize(ctx: BrokerContext, connection: Connection, message: Message, packetId: number, done: () => void): void {
  runChain(ctx.hooks.authorizePublish, (hook) => hook(connection.client, message), (error, verdict: PublishVerdict | undefined) => {
    if (error) ctx.logger.warn({ clientId: connection.client.id, err: error }, 'authorizePublish failed: message denied')
    const denied = error ? ReasonCode.NotAuthorized : denialOf(verdict, ReasonCode.NotAuthorized)
    if (denied !== undefined) {
      ctx.stats.authorizationDenied.publish++
      ctx.stats.dropped.notAuthorized++
      const reason = denialReason(verdict)
      ctx.events.emit('denied', connection.client, 'publish', message.topic, denied, reason)
      // 3.1.1 has no negative ack: the message is dropped and acknowledged, as Mosquitto does
      acknowledge(connection, message.qos, packetId, connection.protocolVersion === 5 ? denied : 0, reason)
      done()
      return
    }
    const rewritten = typeof verdict === 'object' && verdict !== null && verdict.ok && 'message' in verdict ? verdict.message : message
    route(ctx, connection, rewritten, packetId, done)
  })
}

/**
 * Routes the message and acknowledges it once routing has stored what must be durable. A QoS 1 message on a store
 * that applies calls in order does not hold up the connection meanwhile: the next PUBLISH is routed (and handed
 * to the store) at once, so a publisher's messages share the store's round trips and commits, and the acks
 * follow in order as the writes settle. QoS 2 still waits, as its PUBREC must follow the stored inbound id.
 */
function route(ctx: BrokerContext, connection: Connection, message: Message, packetId: number, done: () => void): void {
  const stored = ctx.distributor.route(message, connection.client, connection)
  const own = ctx.distributor.takeOwnCopy()
  if (stored === null && own === null) finish(ctx, connection, message, packetId, null, done)
  else settleLater(ctx, connection, message, packetId, stored, own, done)
}

/**
 * The rest of `route` when there is a store write to wait for or an own copy to deliver: kept apart so the common
 * path above allocates no closure (nor the scope they would share).
 */
function settleLater(ctx: BrokerContext, connection: Connection, message: Message, packetId: number, stored: Promise<unknown> | null, own: OwnCopy | null, done: () => void): void {
  // The publisher's own copy goes after its ack, so the ack never trails the echo...
  const deliverOwn = own === null ? null : (): void => ctx.distributor.deliverOwn(message, own, connection)
  // ...and before the publisher's next packet is handled, so its order holds.
  const finished = deliverOwn === null ? done : (): void => {
    deliverOwn()
    done()
  }
  if (stored === null) {
    finish(ctx, connection, message, packetId, null, finished)
    return
  }
  if (message.qos !== 1 || ctx.persistence.appliesInCallOrder !== true) {
    stored.then(
      () => finish(ctx, connection, message, packetId, null, finished),
      (error: unknown) => finish(ctx, connection, message, packetId, asError(error), finished),
    )
    return
  }
  const acks = (connection.inboundAcks ??= new OrderedAcks(connection))
  const slot = acks.reserve('puback', packetId)
  acks.admit(done)
  stored.then(
    () => acks.settle(slot, successCode(ctx, connection, message), undefined, deliverOwn),
    (error: unknown) => acks.settle(slot, storeFailure(ctx, connection, message, asError(error)), undefined, deliverOwn),
  )
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}

/** MQTT 5: 0x10 tells the publisher nobody was subscribed (a hint; the message was accepted). */
function successCode(ctx: BrokerContext, connection: Connection, message: Message): number {
  return connection.protocolVersion === 5 && ctx.router.match(message.topic).length === 0 ? ReasonCode.NoMatchingSubscribers : ReasonCode.Success
}

/**
 * The message is not acknowledged: the client still owns it and will resend it. A v5 client is told with a
 * failure code; a v3 one has no negative ack, so its connection ends (STORE_FAILED) where the ack would have gone.
 */
function storeFailure(ctx: BrokerContext, connection: Connection, message: Message, error: Error): number {
  ctx.logger.error({ clientId: connection.client.id, err: error, topic: message.topic }, 'message could not be stored')
  return connection.protocolVersion === 5 ? ReasonCode.UnspecifiedError : STORE_FAILED
}

/** The end of a PUBLISH the connection waited for: its ack, and for QoS 2 the inbound id kept before PUBREC. */
function finish(ctx: BrokerContext, connection: Connection, message: Message, packetId: number, error: Error | null, done: () => void): void {
  const qos = message.qos
  if (error) {
    const code = storeFailure(ctx, connection, message, error)
    if (qos > 0 && code === STORE_FAILED) connection.close('store-failed')
    else acknowledge(connection, qos, packetId, code)
    done()
    return
  }
  const code = qos > 0 ? successCode(ctx, connection, message) : ReasonCode.Success
  if (qos !== 2) {
    acknowledge(connection, qos, packetId, code)
    done()
    return
  }
  const session = connection.session
  if (!session) return done()
  session.incoming.add(packetId)
  if (!session.persistent) {
    acknowledge(connection, 2, packetId, code)
    done()
    return
  }
  storeIncoming(ctx, connection, packetId, code, done)
}

/** Stored before PUBREC, so a resend after a broker crash is still recognised as a duplicate. */
function storeIncoming(ctx: BrokerContext, connection: Connection, packetId: number, code: number, done: () => void): void {
  ctx.persistence.incomingAdd(connection.client.id, packetId).then(
    () => {
      acknowledge(connection, 2, packetId, code)
      done()
    },
    (storeError: unknown) => {
      ctx.logger.error({ clientId: connection.client.id, err: storeError }, 'inbound QoS 2 state could not be stored')
      acknowledge(connection, 2, packetId, code)
      done()
    },
  )
}

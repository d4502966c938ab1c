import type { ISubscription } from 'mqtt-packet'
import type { Connection } from '../connection/connection.js'
import type { SubscribeRequest } from '../connection/subscription-packets.js'
import type { PacketHandler } from './handler.js'
import { Slices, readFilters } from './slices.js'
import { ReasonCode, malformed, protocolError } from '../errors.js'
import { denialOf, denialReason, runChainAsync } from '../hooks/hook-runner.js'
import type { SubscribeVerdict } from '../hooks/hook-types.js'
import { isSharedFilter, topicFilterProblem } from '../topic/topic-rules.js'
import type { QoS, RetainHandling, Subscription, UserProperties } from '../types.js'

/** SUBACK failure code: 0x80 in 3.1.1, the specific reason in 5.0. */
function failureCode(connection: Connection, reasonCode: number): number {
  return connection.protocolVersion === 5 ? reasonCode : 0x80
}

interface Refusal {
  code: number
  reason?: string
}

async function grant(connection: Connection, wanted: Subscription, userProperties: UserProperties | undefined): Promise<Subscription | Refusal> {
  const ctx = connection.ctx
  const problem = topicFilterProblem(wanted.filter, ctx.topicLimits)
  if (problem) return { code: failureCode(connection, ReasonCode.TopicFilterInvalid), reason: `invalid topic filter: ${problem}` } // [MQTT-3.8.3-2] [MQTT-3.9.3-2]
  let verdict: SubscribeVerdict
  try {
    verdict = await runChainAsync(ctx.hooks.authorizeSubscribe, (hook) => hook(connection.client, wanted, userProperties))
  } catch (error) {
    ctx.logger.warn({ clientId: connection.client.id, err: error, filter: wanted.filter }, 'authorizeSubscribe failed: denied')
    verdict = false
  }
  const denied = denialOf(verdict, ReasonCode.NotAuthorized)
  if (denied !== undefined) {
    ctx.stats.authorizationDenied.subscribe++
    const reason = denialReason(verdict)
    ctx.events.emit('denied', connection.client, 'subscribe', wanted.filter, denied, reason)
    return { code: failureCode(connection, denied), reason }
  }
  const granted = typeof verdict === 'object' && verdict !== null && verdict.ok && 'subscription' in verdict ? verdict.subscription : wanted
  const session = connection.session
  if (session && !session.subscriptions.has(granted.filter)) {
    if (session.subscriptions.size >= ctx.options.maxSubscriptionsPerClient) {
      return { code: failureCode(connection, ReasonCode.QuotaExceeded), reason: 'too many subscriptions' }
    }
    const cap = ctx.options.maxSubscriptionBytesPerClient
    if (cap > 0 && session.subscriptionBytes + Buffer.byteLength(granted.filter) > cap) {
      return { code: failureCode(connection, ReasonCode.QuotaExceeded), reason: 'subscription filters over maxSubscriptionBytesPerClient' }
    }
  }
  return granted
}

/** The subscription options as the client sent them (MQTT 5 §3.8.3.1), to tell repeated filters apart. */
function optionsByte(requested: ISubscription): number {
  return requested.qos | (requested.nl === true ? 4 : 0) | (requested.rap === true ? 8 : 0) | ((requested.rh ?? 0) << 4)
}

function subscriptionFrom(connection: Connection, requested: ISubscription, identifier: number | undefined): Subscription {
  const subscription: Subscription = {
    filter: requested.topic,
    // [MQTT-3.9.3-2] granted QoS never above what the broker supports
    qos: Math.min(requested.qos, connection.ctx.options.maxQos) as QoS,
  }
  if (connection.client.bridge && !isSharedFilter(requested.topic)) {
    // A bridge never gets its own messages back, and sees retained flags as published (Mosquitto's semantics)
    subscription.noLocal = true
    subscription.retainAsPublished = true
  }
  if (connection.protocolVersion === 5) {
    if (requested.nl) subscription.noLocal = true
    if (requested.rap) subscription.retainAsPublished = true
    if (requested.rh) subscription.retainHandling = requested.rh as RetainHandling
    if (identifier !== undefined) subscription.subscriptionIdentifier = identifier
  }
  return subscription
}

/**
 * SUBSCRIBE: each filter checked and authorized on its own (one bad filter does not fail the others),
 * stored, acknowledged with SUBACK, then matching retained messages are sent.
 */
export const handleSubscribe: PacketHandler = (ctx, connection, packet, done) => {
  const subscribe = packet as SubscribeRequest
  const session = connection.session
  if (!session) return done()
  const identifier = subscribe.properties?.subscriptionIdentifier
  const userProperties = subscribe.properties?.userProperties
  const run = async (): Promise<void> => {
    // Every filter is read and checked before any is granted: a malformed one refuses the whole packet.
    const slices = new Slices()
    const violation = await readFilters(subscribe.filters, subscribe.subscriptions, slices)
    if (connection.session !== session) return
    if (violation) return connection.fail(violation)
    if (subscribe.subscriptions.length === 0) return connection.fail(malformed('SUBSCRIBE without topic filters')) // [MQTT-3.8.3-3]
    if (connection.protocolVersion === 5 && subscribe.subscriptions.some((requested) => requested.nl && isSharedFilter(requested.topic))) {
      return connection.fail(protocolError('No Local on a shared subscription')) // [MQTT-3.8.3-4]
    }
    const codes: number[] = []
    const accepted: Subscription[] = []
    const retainedFor: Subscription[] = []
    const reasons: string[] = []
    // A filter repeated with the same options in one SUBSCRIBE is granted once: the copies get its code.
    const handled = new Map<string, { options: number; code: number }>()
    for (const requested of subscribe.subscriptions) {
      if (slices.due) await slices.next()
      const options = optionsByte(requested)
      const earlier = handled.get(requested.topic)
      if (earlier !== undefined && earlier.options === options) {
        codes.push(earlier.code)
        continue
      }
      const outcome = await grant(connection, subscriptionFrom(connection, requested, identifier), userProperties)
      // Closed or taken over meanwhile: the session's subscriptions were dropped or handed on, none may be added now.
      if (connection.session !== session) break
      handled.set(requested.topic, { options, code: 'filter' in outcome ? outcome.qos : outcome.code })
      if (!('filter' in outcome)) {
        codes.push(outcome.code)
        if (outcome.reason !== undefined) reasons.push(outcome.reason)
        continue
      }
      const existed = session.subscriptions.has(outcome.filter)
      // [MQTT-3.8.4-3] a subscription with the same filter replaces the old one
      session.subscribe(outcome)
      ctx.router.add(session.clientId, outcome)
      ctx.cluster?.announceSubscription(session.clientId, outcome)
      accepted.push(outcome)
      codes.push(outcome.qos)
      const handling = outcome.retainHandling ?? 0
      // [MQTT-3.3.1-9..11] retained messages on subscribe, per Retain Handling; never for shared subscriptions
      if (!isSharedFilter(outcome.filter) && (handling === 0 || (handling === 1 && !existed))) retainedFor.push(outcome)
    }
    // Stored for persistent sessions, and for every live session in a cluster (nodes started later load them).
    const stored = session.persistent || (ctx.cluster !== undefined && connection.session === session)
    if (stored && accepted.length > 0) await ctx.persistence.subscriptionsAdd(session.clientId, accepted)
    if (!connection.isOpen) return
    // [MQTT-3.8.4-1] [MQTT-3.8.4-5] one SUBACK, one code per filter in order
    const reason = connection.protocolVersion === 5 && reasons.length > 0 ? reasons.join('; ') : undefined
    connection.writePacket({ cmd: 'suback', messageId: subscribe.messageId ?? 0, granted: codes, ...connection.reasonProperties(reason) })
    if (accepted.length > 0) ctx.events.emit('subscribed', connection.client, accepted, userProperties)
    for (const subscription of retainedFor) {
      if (slices.due) await slices.next()
      const ids = subscription.subscriptionIdentifier === undefined ? undefined : [subscription.subscriptionIdentifier]
      for (const message of await ctx.persistence.retainedMatch(subscription.filter)) {
        // A large retained set must not overrun the socket (where QoS 0 would be dropped): keep pace with it.
        if (connection.congested) await connection.drained()
        if (!connection.isOpen) return
        // [MQTT-3.3.1-8] sent because of a new subscription: retain flag set
        session.deliver(message, (message.qos < subscription.qos ? message.qos : subscription.qos) as QoS, true, ids)
      }
    }
  }
  run().then(done, (error: unknown) => {
    ctx.logger.error({ clientId: session.clientId, err: error }, 'subscribe failed')
    connection.close('internal-error', ReasonCode.UnspecifiedError)
    done()
  })
}

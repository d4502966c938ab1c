import type { DisconnectReason } from './errors.js'
import type { ClientInfo } from './hooks/hook-types.js'
import type { Message, Subscription, UserProperties } from './types.js'

/** The broker's events, as a typed map: `broker.on('clientConnected', (client) => ...)`. */
export interface BrokerEvents {
  clientConnected: [client: ClientInfo]
  /**
   * `reason` says why: 'disconnect', 'socket-closed', 'keepalive-timeout', 'taken-over', 'protocol-error', ...;
   * `userProperties` are those of the client's MQTT 5 DISCONNECT, when it sent one with them.
   */
  clientDisconnected: [client: ClientInfo, reason: DisconnectReason, userProperties: UserProperties | undefined]
  /** `userProperties`: those of the MQTT 5 SUBSCRIBE or UNSUBSCRIBE (undefined when it had none). */
  subscribed: [client: ClientInfo, subscriptions: Subscription[], userProperties: UserProperties | undefined]
  unsubscribed: [client: ClientInfo, filters: string[], userProperties: UserProperties | undefined]
  /** After routing; `client` is null for messages the host or the broker itself published. */
  published: [message: Message, client: ClientInfo | null]
  /**
   * An authentication or authorization hook refused something: a CONNECT ('connect', `detail` = user name or ''),
   * a PUBLISH or will ('publish', `detail` = topic) or one filter of a SUBSCRIBE ('subscribe', `detail` = filter),
   * with the MQTT 5 reason code of the refusal and the text the hook gave, if any.
   */
  denied: [client: ClientInfo, action: 'connect' | 'publish' | 'subscribe', detail: string, reasonCode: number, reason: string | undefined]
  /** A client misbehaved or its stream failed: that client is dropped, nothing else is affected. */
  clientError: [client: ClientInfo | null, error: Error]
  /** Something went wrong in the broker itself (e.g. persistence), with what was affected in the error. */
  error: [error: Error]
}

import type { ClientInfo, Message, Subscription, UserProperties } from '../../src/index.js'
import { Inbox } from './inbox.js'
import type { TestBroker } from './start-broker.js'

export interface BrokerEventLog {
  connected: Inbox<ClientInfo>
  disconnected: Inbox<{ client: ClientInfo; reason: string; userProperties: UserProperties | undefined }>
  subscribed: Inbox<{ client: ClientInfo; subscriptions: Subscription[]; userProperties: UserProperties | undefined }>
  unsubscribed: Inbox<{ client: ClientInfo; filters: string[]; userProperties: UserProperties | undefined }>
  published: Inbox<{ message: Message; client: ClientInfo | null }>
  clientErrors: Inbox<{ client: ClientInfo | null; error: Error }>
}

/** Records the broker's events from now on. */
export function recordEvents(broker: TestBroker): BrokerEventLog {
  const log: BrokerEventLog = {
    connected: new Inbox((c) => c.id),
    disconnected: new Inbox((e) => `${e.client.id}:${e.reason}`),
    subscribed: new Inbox((e) => `${e.client.id}:${e.subscriptions.map((s) => s.filter).join('|')}`),
    unsubscribed: new Inbox((e) => `${e.client.id}:${e.filters.join('|')}`),
    published: new Inbox((e) => `${e.client?.id ?? 'host'}:${e.message.topic}`),
    clientErrors: new Inbox((e) => `${e.client?.id ?? '?'}:${e.error.message}`),
  }
  broker.on('clientConnected', (client) => log.connected.push(client))
  broker.on('clientDisconnected', (client, reason, userProperties) => log.disconnected.push({ client, reason, userProperties }))
  broker.on('subscribed', (client, subscriptions, userProperties) => log.subscribed.push({ client, subscriptions, userProperties }))
  broker.on('unsubscribed', (client, filters, userProperties) => log.unsubscribed.push({ client, filters, userProperties }))
  broker.on('published', (message, client) => log.published.push({ message, client }))
  broker.on('clientError', (client, error) => log.clientErrors.push({ client, error }))
  return log
}

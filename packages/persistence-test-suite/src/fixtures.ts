/** Messages and targets for the suite's tests. */
import type { Message, OutboundTarget, Subscription } from '@wren/core'

let sequence = 0
const runId = Math.random().toString(36).slice(2, 8)

function nextId(): string {
  sequence++
  return `${runId}-${sequence}`
}

/** A message with a fresh id; `extra` overrides any field. */
export function testMessage(topic: string, payload: string | Buffer = 'payload', extra: Partial<Message> = {}): Message {
  return {
    id: nextId(),
    topic,
    payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
    qos: 1,
    retain: false,
    ...extra,
  }
}

/** QoS 1 targets for the given clients, no other delivery option. */
export function targets(...clientIds: string[]): OutboundTarget[] {
  return clientIds.map((clientId) => ({ clientId, qos: 1 }))
}

/** The filters of some subscriptions, sorted: order is not part of the contract. */
export function filtersOf(subscriptions: Subscription[]): string[] {
  return subscriptions.map((subscription) => subscription.filter).sort()
}

import type { Holdable } from '../session/session.js'
import type { Message, QoS, Subscription } from '../types.js'

/** One delivery the publishing node computed for a session that is connected to another node. */
export interface RemoteDelivery {
  clientId: string
  qos: QoS
  retain: boolean
  subscriptionIdentifiers?: number[]
}

/** What a node learns from the others. Every handler is called in the order the bus received events. */
export interface ClusterHandlers {
  /**
   * Node `from` routed a message and these of its deliveries are for sessions connected here. A session that takes
   * it over its bound holds `senders(from, clientId)` back, as it holds a local publisher. Deliveries for clients no
   * longer connected here are queued in the store for persistent sessions: the promise settles once they are (null
   * when there were none).
   */
  deliver(message: Message, deliveries: RemoteDelivery[], from: string): Promise<void> | null
  /** A subscription was added or replaced on another node. */
  subscriptionAdded(clientId: string, subscription: Subscription): void
  subscriptionRemoved(clientId: string, filter: string): void
  /**
   * Another node has taken over `clientId` (session takeover across nodes): close the local connection
   * (v5 DISCONNECT 0x8E) and let its session state reach the store. Resolves once released.
   */
  release(clientId: string): Promise<void>
  /**
   * Another node queued messages in the store for these clients, which it found connected here: a connected session
   * reads its store queue only when it resumes, so it sends on what it does not have yet.
   */
  queued(clientIds: string[]): void
  /**
   * A node stopped renewing its lease: it is gone. Called on exactly one surviving node, the one that won
   * the claim on the dead node's clients; it publishes their wills and marks their sessions offline.
   * `clients` are the client ids the dead node owned.
   */
  nodeDown(nodeId: string, clients: string[]): void
}

/**
 * The cross-node bus a cluster of brokers shares. Single-node brokers use none; `@wren/cluster-redis`
 * implements it on Redis. The router computes deliveries at the publishing node (so shared-subscription
 * groups pick exactly one member cluster-wide) and forwards each node its share.
 */
export interface ClusterBus {
  readonly nodeId: string
  start(handlers: ClusterHandlers): Promise<void>
  /** The node holding `clientId`'s connection, from a local view kept current by the bus; undefined when offline. */
  ownerOf(clientId: string): string | undefined
  /**
   * Records this node as the owner of `clientId` and returns the previous owner, if any: when it is another
   * node, the bus has asked it to release the client and resolves only after it did (or its lease ran out).
   */
  claim(clientId: string): Promise<string | undefined>
  /** The client disconnected from this node. */
  disown(clientId: string): void
  /**
   * Sends a message with deliveries to another node; per sender, order is kept. `publisher` is held back while a
   * session there that one of these deliveries is for holds this node's senders (see `senders`).
   */
  forward(nodeId: string, message: Message, deliveries: RemoteDelivery[], publisher?: Holdable): void
  /**
   * This node queued messages in the store for these persistent sessions, which it does not hold (a forward nobody
   * heard, or one that arrived after its client had left): if one is connected to a node by then, that node is told
   * (`ClusterHandlers.queued`), so that the session gets them now rather than at its next resumption.
   */
  queued(clientIds: readonly string[]): void
  /**
   * Node `nodeId`'s publishers of messages for the local session `clientId`, as one publisher that the session can
   * hold back when it is full: a message acknowledged on one node is then kept, never dropped because a queue on
   * another was full, and the publishers there are slowed instead.
   */
  senders(nodeId: string, clientId: string): Holdable
  announceSubscription(clientId: string, subscription: Subscription): void
  announceUnsubscription(clientId: string, filter: string): void
  /** Live nodes, this one included. */
  nodes(): string[]
  /** Connected clients per node, as last reported (for `$SYS/cluster/...`). */
  clientCounts(): Map<string, number>
  reportClients(count: number): void
  stop(): Promise<void>
}

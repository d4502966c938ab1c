/**
 * Every key and channel the bus uses, under one prefix so that several clusters (or a cluster and the
 * persistence adapter) can share a Redis. Lua scripts build the per-node keys from `prefix` themselves, so
 * on Redis Cluster the prefix must carry a hash tag (e.g. `{wren}:cluster:`) to keep them in one slot.
 */
export class ClusterKeys {
  /** Hash clientId -> nodeId: which node holds each connected client. */
  readonly owners: string
  /** Set of node ids that joined and have not been declared dead. */
  readonly nodes: string
  /** Hash nodeId -> connected client count, refreshed with each heartbeat. */
  readonly counts: string
  /** Stream of every broadcast event, trimmed to the newest few thousand: replayed after a lost subscription. */
  readonly events: string
  /** The pub/sub channel every node listens on for broadcast events. */
  readonly broadcast: string

  constructor(readonly prefix: string) {
    this.owners = `${prefix}owners`
    this.nodes = `${prefix}nodes`
    this.counts = `${prefix}counts`
    this.events = `${prefix}events`
    this.broadcast = `${prefix}broadcast`
  }

  /** Exists while the node renews it: its absence means the node is gone. */
  lease(nodeId: string): string {
    return `${this.prefix}lease:${nodeId}`
  }

  /** The client ids a node owns, so that reaping a dead node reads one set instead of scanning `owners`. */
  nodeClients(nodeId: string): string {
    return `${this.prefix}node-clients:${nodeId}`
  }

  /** The pub/sub channel of one node: forwarded messages, release requests and their replies. */
  channel(nodeId: string): string {
    return `${this.prefix}node:${nodeId}`
  }
}

import type { Logger } from '@wren/core'
import type { BusConnections } from './connections.js'
import type { ClusterKeys } from './keys.js'

export interface MembershipSettings {
  nodeId: string
  keys: ClusterKeys
  leaseMs: number
  heartbeatMs: number
  eventLogLength: number
  logger: Logger
}

/** What membership tells the rest of the bus. */
export interface MembershipEvents {
  /** Another node declared this one dead meanwhile (its lease ran out) and adopted its clients. */
  declaredDead(): void
  /** This node won a dead node's clients (exactly one survivor does). */
  reaped(nodeId: string, clients: string[]): void
  failed(error: unknown, action: string): void
}

/**
 * Which nodes are alive: this node's lease (renewed every `heartbeatMs`, with its client count), the members and
 * their counts as last read, and the reaping of nodes whose lease ran out.
 */
export class Membership {
  private live = new Set<string>()
  private counts = new Map<string, number>()
  private reported = 0
  private timer: NodeJS.Timeout | null = null
  private ticking = false
  private stopped = false

  constructor(
    private readonly settings: MembershipSettings,
    private readonly redis: BusConnections,
    private readonly events: MembershipEvents,
  ) {}

  nodes(): string[] {
    return [...this.live]
  }

  clientCounts(): Map<string, number> {
    const counts = new Map(this.counts)
    counts.set(this.settings.nodeId, this.reported)
    return counts
  }

  reportClients(count: number): void {
    this.reported = count
  }

  /** The members and counts as read with a snapshot of the cluster. */
  load(members: string[], counts: Record<string, string>): void {
    this.live = new Set(members)
    this.counts = new Map(Object.entries(counts).map(([node, count]) => [node, Number(count)]))
  }

  joined(nodeId: string): void {
    this.live.add(nodeId)
  }

  forget(nodeId: string): void {
    this.live.delete(nodeId)
    this.counts.delete(nodeId)
  }

  /** Renews the lease; finding itself no longer a member means this node was declared dead meanwhile. */
  async heartbeat(): Promise<void> {
    const { keys, nodeId, leaseMs } = this.settings
    const member = await this.redis.script('wrenHeartbeat')(keys.lease(nodeId), keys.nodes, keys.counts, nodeId, leaseMs, this.reported)
    if (member === 0 && !this.stopped) this.events.declaredDead()
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.settings.heartbeatMs)
    // The broker's listeners keep the process alive, not the cluster's heartbeat.
    this.timer.unref()
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
  }

  /** Leaves on purpose: this node's lease, count, membership and remaining clients go. */
  async leave(): Promise<void> {
    const { keys: k, nodeId, eventLogLength } = this.settings
    await this.redis.script('wrenLeave')(k.lease(nodeId), k.nodes, k.counts, k.nodeClients(nodeId), k.owners, k.events, k.broadcast, eventLogLength, nodeId)
  }

  /** Once per heartbeat: renew the lease, declare expired nodes dead, refresh members and client counts. */
  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return
    this.ticking = true
    try {
      await this.heartbeat()
      await this.reap()
      const k = this.settings.keys
      const command = this.redis.command
      const [members, counts] = await Promise.all([command.smembers(k.nodes), command.hgetall(k.counts)])
      if (!this.stopped) this.load(members, counts)
    } catch (error) {
      this.events.failed(error, 'heartbeat')
    } finally {
      this.ticking = false
    }
  }

  private async reap(): Promise<void> {
    const { keys: k, nodeId: me, eventLogLength, logger } = this.settings
    const reaped = (await this.redis.script('wrenReap')(k.nodes, k.owners, k.counts, k.events, k.broadcast, eventLogLength, k.prefix, me)) as Array<string | string[]>
    for (let i = 0; i + 1 < reaped.length; i += 2) {
      const nodeId = reaped[i] as string
      const clients = reaped[i + 1] as string[]
      logger.warn({ nodeId, clients: clients.length, by: me }, 'cluster node lease expired: adopting its clients')
      this.events.reaped(nodeId, clients)
    }
  }
}

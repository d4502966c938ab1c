import type { Logger } from '@wren/core'
import type { BusConnections } from './connections.js'
import { encodeEvent } from './events.js'
import type { ClusterKeys } from './keys.js'
import type { ReleaseRequests } from './release-requests.js'

export interface OwnershipSettings {
  nodeId: string
  keys: ClusterKeys
  eventLogLength: number
  logger: Logger
}

/**
 * Who holds which client: this node's claims and disowns (scripts that change `owners` and broadcast the change
 * atomically), the map of every client's owner kept from those broadcasts, and the clients this node holds.
 */
export class Ownership {
  /** clientId -> owning node, for every client connected anywhere in the cluster. */
  private readonly owners = new Map<string, string>()
  /** Clients this node claimed and has not disowned. */
  private readonly mine = new Set<string>()

  constructor(
    private readonly settings: OwnershipSettings,
    private readonly redis: BusConnections,
    private readonly releases: ReleaseRequests,
    /** Lets a local client go (the broker's `release` handler). */
    private readonly release: (clientId: string) => Promise<void>,
    private readonly failed: (error: unknown, action: string) => void,
  ) {}

  ownerOf(clientId: string): string | undefined {
    return this.owners.get(clientId)
  }

  async claim(clientId: string): Promise<string | undefined> {
    const { keys: k, nodeId, eventLogLength } = this.settings
    this.mine.add(clientId)
    const event = encodeEvent({ t: 'own', n: nodeId, c: clientId })
    let previous: string | null
    try {
      previous = (await this.redis.script('wrenClaim')(k.owners, k.events, k.nodeClients(nodeId), k.broadcast, eventLogLength, k.prefix, nodeId, clientId, event)) as string | null
    } catch (error) {
      this.mine.delete(clientId)
      throw error
    }
    if (previous === null) return undefined
    if (previous !== nodeId) await this.releases.request(previous, clientId)
    return previous
  }

  disown(clientId: string): void {
    const { keys: k, nodeId, eventLogLength } = this.settings
    this.mine.delete(clientId)
    const event = encodeEvent({ t: 'left', n: nodeId, c: clientId })
    this.redis.script('wrenDisown')(k.owners, k.events, k.nodeClients(nodeId), k.broadcast, eventLogLength, nodeId, clientId, event)
      .catch((error: unknown) => this.failed(error, 'disown'))
  }

  /** The owner map as read with a snapshot of the cluster. */
  load(owners: Record<string, string>): void {
    this.owners.clear()
    for (const [clientId, node] of Object.entries(owners)) this.owners.set(clientId, node)
  }

  owned(clientId: string, nodeId: string): void {
    this.owners.set(clientId, nodeId)
  }

  /** `clientId` left `nodeId`: forgotten unless it has a newer owner already. */
  left(clientId: string, nodeId: string): void {
    if (this.owners.get(clientId) === nodeId) this.owners.delete(clientId)
  }

  forgetNode(nodeId: string): void {
    for (const [clientId, owner] of this.owners) if (owner === nodeId) this.owners.delete(clientId)
  }

  /** Lets every client of this node go: they reconnect (to any node) and resume from the store. */
  releaseAll(why: string): void {
    const clients = [...this.mine]
    if (clients.length === 0) return
    this.settings.logger.error({ nodeId: this.settings.nodeId, clients: clients.length }, why)
    this.mine.clear()
    for (const clientId of clients) this.release(clientId).catch((error: unknown) => this.failed(error, 'release'))
  }

  /** Stopping: the leave script disowns whatever is left. */
  clear(): void {
    this.mine.clear()
  }
}

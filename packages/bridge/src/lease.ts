/**
 * Decides which of several brokers runs a bridge (in a cluster, every node is configured with it, and one
 * runs it): only the holder of the bridge's lease. `@wren/cluster-redis` implements it on Redis.
 */
export interface BridgeLease {
  /** Milliseconds between two `hold` calls of a bridge: well under the lease's lifetime. */
  readonly renewMs: number
  /** Takes the lease for `name`, or keeps it if this node holds it already; false while another node holds it. */
  hold(name: string): Promise<boolean>
  /** Gives the lease up (only if this node holds it), so another node can take the bridge over at once. */
  release(name: string): Promise<void>
}

/** A connection as the keepalive sweep sees it. */
export interface KeepaliveWatched {
  /** The sweep tick at which the client last sent something. */
  lastActivity: number
  /** Ticks of silence allowed: 1.5x the keepalive [MQTT-3.1.2-24]. */
  keepaliveTicks: number
  onKeepaliveTimeout(): void
}

const TICK_MS = 250

/**
 * One interval timer checks every connection's keepalive, instead of a timer per connection (which costs
 * memory per idle client and a refresh per packet). Activity is stamped with the current tick, a plain
 * field write; a silent client is closed within a tick of its deadline.
 */
export class KeepaliveSweep {
  tick = 0
  private readonly watched = new Set<KeepaliveWatched>()
  private timer: NodeJS.Timeout | null = null

  ticksFor(keepaliveSeconds: number): number {
    return Math.ceil((keepaliveSeconds * 1500) / TICK_MS)
  }

  watch(connection: KeepaliveWatched): void {
    this.watched.add(connection)
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), TICK_MS)
      this.timer.unref()
    }
  }

  unwatch(connection: KeepaliveWatched): void {
    this.watched.delete(connection)
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer)
      this.timer = null
    }
  }

  private sweep(): void {
    const now = ++this.tick
    for (const connection of this.watched) {
      if (now - connection.lastActivity > connection.keepaliveTicks) connection.onKeepaliveTimeout()
    }
  }
}

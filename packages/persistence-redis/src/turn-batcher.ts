import type { Redis } from 'ioredis'

type NetStream = Redis['stream']

/**
 * Holds the commands written to Redis during one turn of the event loop and sends them in one `writev` at its
 * end (the socket is corked until `setImmediate`). ioredis writes each command to the socket as it is made: at
 * 20 publishers and their deliveries that is a system call per command, most of the adapter's CPU. Order is
 * unchanged (one socket, one buffer), so calls still take effect in the order they were made.
 */
export class TurnBatcher {
  private corked: NetStream | null = null
  private readonly release = (): void => {
    this.corked?.uncork()
    this.corked = null
  }

  constructor(private readonly redis: Redis) {}

  /** Call before a command: the first one of a turn corks the socket. Commands queued offline need no holding. */
  hold(): void {
    if (this.corked !== null || this.redis.status !== 'ready') return
    const stream = this.redis.stream
    stream.cork()
    this.corked = stream
    setImmediate(this.release)
  }
}

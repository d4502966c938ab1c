import type { Redis } from 'ioredis'

type NetStream = Redis['stream']

/**
 * Holds the commands written to Redis during one tick (the callback being run and the promise reactions it
 * sets off) and sends them in one `writev` (the socket is corked until `process.nextTick`). ioredis writes each
 * command to the socket as it is made: with a connected persistent subscriber that is a system call per
 * enqueue, sent and ack, where one Redis reply that settles twenty publishes now sends their follow-up writes
 * together. The next tick, not the end of the event-loop turn, so a publisher waiting for its ack waits no
 * longer for the batching. Order is unchanged (one socket, one buffer), so calls still take effect in the
 * order they were made.
 */
export class TickBatcher {
  private corked: NetStream | null = null
  private readonly release = (): void => {
    this.corked?.uncork()
    this.corked = null
  }

  constructor(private readonly redis: Redis) {}

  /** Call before a command: the first one of a tick corks the socket. Commands queued offline need no holding. */
  hold(): void {
    if (this.corked !== null || this.redis.status !== 'ready') return
    const stream = this.redis.stream
    stream.cork()
    this.corked = stream
    process.nextTick(this.release)
  }
}

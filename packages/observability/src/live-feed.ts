import type { IncomingMessage, ServerResponse } from 'node:http'
import type { OverviewSource } from './overview.js'

/**
 * Server-sent events: every subscriber gets the same overview once per interval. One timer for all of them,
 * running only while someone listens.
 */
export class LiveFeed {
  private readonly listeners = new Set<ServerResponse>()
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly overview: OverviewSource,
    private readonly intervalMs: number,
  ) {}

  subscribe(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' })
    res.write(`retry: ${this.intervalMs}\n\n`)
    this.listeners.add(res)
    const leave = (): void => {
      this.listeners.delete(res)
      if (this.listeners.size === 0) this.stop()
    }
    req.once('close', leave)
    res.once('close', leave)
    void this.push()
    this.timer ??= setInterval(() => void this.push(), this.intervalMs)
  }

  private async push(): Promise<void> {
    if (this.listeners.size === 0) return
    let data: string
    try {
      data = `event: overview\ndata: ${JSON.stringify(await this.overview.take())}\n\n`
    } catch {
      // A store that cannot answer now: the next tick tries again, the dashboard keeps its last numbers.
      return
    }
    for (const res of this.listeners) res.write(data)
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  close(): void {
    this.stop()
    for (const res of this.listeners) res.end()
    this.listeners.clear()
  }
}

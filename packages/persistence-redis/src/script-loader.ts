import type { Redis } from 'ioredis'
import type { LuaScript } from './scripts.js'

/**
 * Keeps Redis' script cache ahead of EVALSHA. SCRIPT LOAD of every script is sent when the adapter starts,
 * and again before the first script after the connection closed (a restarted Redis, or a failover to another
 * one, knows no scripts), on the same connection as the EVALSHAs behind it. Redis runs one connection's
 * commands in order, so the script is known when an EVALSHA runs, whether the commands go out at once or wait
 * in ioredis' offline queue for the reconnect. What is left: a command in flight when the connection dropped,
 * resent by ioredis to a Redis that restarted meanwhile, fails with NOSCRIPT (it is not retried out of order),
 * as does every script after a `SCRIPT FLUSH` until the next one reloads them.
 */
export class ScriptLoader {
  private loaded = false
  private readonly forget = (): void => {
    this.loaded = false
  }
  private readonly onScriptError = (error: unknown): void => {
    if (error instanceof Error && error.message.startsWith('NOSCRIPT')) this.loaded = false
  }

  constructor(
    private readonly redis: Redis,
    private readonly scripts: readonly LuaScript[],
  ) {
    redis.on('close', this.forget)
    this.ready()
  }

  /** EVALSHA, behind the scripts' SCRIPT LOAD unless they went on this connection; a NOSCRIPT reply has them sent again. */
  run(script: LuaScript, keys: string[], args: Array<string | Buffer | number>, buffers: boolean): Promise<unknown> {
    this.ready()
    const reply = buffers ? script.runBuffer(this.redis, keys, args) : script.run(this.redis, keys, args)
    reply.catch(this.onScriptError)
    return reply
  }

  private ready(): void {
    if (this.loaded) return
    this.loaded = true
    for (const script of this.scripts) this.redis.script('LOAD', script.source).catch(this.forget)
  }

  detach(): void {
    this.redis.off('close', this.forget)
  }
}

import { EventEmitter } from 'node:events'
import type { ClusterBus } from './cluster/cluster-bus.js'
import type { KeepaliveSweep } from './connection/keepalive.js'
import type { BrokerEvents } from './events.js'
import type { HookChains } from './hooks/hook-runner.js'
import type { Logger, ResolvedOptions } from './options.js'
import type { Persistence } from './persistence/persistence.js'
import type { Router } from './router/router.js'
import type { BrokerStats } from './stats.js'
import type { TopicLimits } from './topic/topic-rules.js'

/** Emits the broker's typed events. */
export class TypedEmitter<Events extends { [K in keyof Events]: unknown[] }> extends EventEmitter {
  override on<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void)
  }
  override once<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): this {
    return super.once(event, listener as (...args: unknown[]) => void)
  }
  override off<K extends keyof Events & string>(event: K, listener: (...args: Events[K]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void)
  }
  override emit<K extends keyof Events & string>(event: K, ...args: Events[K]): boolean {
    return super.emit(event, ...args)
  }
}

/**
 * The broker's services that know nothing of sessions or routing: what the connection, the session manager and
 * the distributor share. `BrokerContext` (context.ts) adds the sessions and the distributor on top.
 */
export interface BrokerCore {
  readonly id: string
  readonly options: ResolvedOptions
  readonly topicLimits: TopicLimits
  readonly logger: Logger
  readonly persistence: Persistence
  readonly router: Router
  readonly hooks: HookChains
  readonly stats: BrokerStats
  readonly keepalive: KeepaliveSweep
  readonly events: TypedEmitter<BrokerEvents>
  /** Set when the broker is one node of a cluster. */
  readonly cluster: ClusterBus | undefined
  closing: boolean
  nextMessageId(): string
}

/** A failed store write: logged and reported as the broker's 'error' event, never thrown at a client. */
export function reportStoreError(core: BrokerCore, error: unknown): void {
  const err = error instanceof Error ? error : new Error(String(error))
  core.logger.error({ err }, 'persistence write failed')
  core.events.emit('error', err)
}

import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { ClusterBus } from './cluster/cluster-bus.js'
import type { KeepaliveSweep } from './connection/keepalive.js'
import type { BrokerEvents } from './events.js'
import type { HookChains } from './hooks/hook-runner.js'
import type { Logger, ResolvedOptions } from './options.js'
import type { Persistence } from './persistence/persistence.js'
import type { Router } from './router/router.js'
import type { SessionManager } from './session/session-manager.js'
import type { ClientInfo } from './hooks/hook-types.js'
import type { Holdable } from './session/session.js'
import type { Message } from './types.js'
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

/** State shared by the broker's parts: handed to handlers so that none of them reaches into the facade. */
export interface BrokerContext {
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
  readonly sessions: SessionManager
  /** Set when the broker is one node of a cluster. */
  readonly cluster: ClusterBus | undefined
  closing: boolean
  /** Resolves once persisted state is loaded (and the cluster joined). */
  readonly ready: Promise<void>
  nextMessageId(): string
  /**
   * Routes an accepted message; `done` fires once what must be durable before an ack is stored. `holder`, the
   * publisher's connection, is held back by subscribers whose queues the message filled.
   */
  route(message: Message, publisher: ClientInfo | null, done: (error: Error | null) => void, holder?: Holdable): void
}

export function generateId(prefix: string): string {
  return `${prefix}${randomBytes(8).toString('hex')}`
}

export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
}

import type { Duplex } from 'node:stream'
import { BrokerAdmin } from './admin/broker-admin.js'
import { clusterHandlers } from './cluster/cluster-node.js'
import { Connection, type ConnectionHandler } from './connection/connection.js'
import { KeepaliveSweep } from './connection/keepalive.js'
import type { BrokerContext } from './context.js'
import { type BrokerCore, TypedEmitter } from './core.js'
import type { BrokerEvents } from './events.js'
import { createMessage, messageProperties, toBuffer } from './handlers/message-from-packet.js'
import { packetHandlers } from './handlers/index.js'
import { addHook, createHookChains, type HookChains } from './hooks/hook-runner.js'
import type { ClientInfo, HookName, Hooks } from './hooks/hook-types.js'
import { createMessageIds, generateId } from './ids.js'
import { DEFAULT_OPTIONS, silentLogger, type BrokerOptions, type Logger, type ResolvedOptions } from './options.js'
import { validateBrokerOptions } from './options-validation.js'
import { MemoryPersistence } from './persistence/memory.js'
import type { Persistence } from './persistence/persistence.js'
import { Distributor, SharedGroups } from './router/distribute.js'
import { Router } from './router/router.js'
import { SessionManager } from './session/session-manager.js'
import { SessionRecovery } from './session/session-recovery.js'
import { SessionRegistry } from './session/session-registry.js'
import type { Holdable } from './session/session.js'
import { Wills } from './session/wills.js'
import { BrokerStats } from './stats.js'
import { SysTopics } from './sys/sys-topics.js'
import { isSharedFilter, topicFilterProblem, topicNameProblem, type TopicLimits } from './topic/topic-rules.js'
import type { ConnectionMeta, Message, PublishInput } from './types.js'
import { ErrorCode, ReasonCode, UsageError } from './errors.js'

/** The meta of a stream handed over without one: shared, so such a connection carries no empty object. */
const NO_META: ConnectionMeta = Object.freeze({})

function resolveOptions(options: BrokerOptions): ResolvedOptions {
  const resolved = { ...DEFAULT_OPTIONS }
  for (const key of Object.keys(DEFAULT_OPTIONS) as Array<keyof ResolvedOptions>) {
    const value = options[key]
    if (value !== undefined) (resolved as Record<string, unknown>)[key] = value
  }
  return resolved
}

/**
 * An MQTT broker with no I/O of its own: hand it streams with `handle()`.
 *
 * ```ts
 * const broker = createBroker()
 * net.createServer((socket) => broker.handle(socket)).listen(1883)
 * ```
 */
export class Broker extends TypedEmitter<BrokerEvents> {
  readonly id: string
  /** Operator actions and read-outs (clients, sessions, subscriptions, retained messages, gauges). */
  readonly admin: BrokerAdmin
  private readonly ctx: BrokerContext
  private readonly handlers: Readonly<Record<string, ConnectionHandler>>
  private readonly connections = new Set<Connection>()
  private readonly sys: SysTopics
  private readonly readyPromise: Promise<void>
  private closePromise: Promise<void> | null = null

  constructor(options: BrokerOptions = {}) {
    super()
    validateBrokerOptions(options)
    this.id = options.cluster?.nodeId ?? options.id ?? generateId('wren-broker-')
    const resolved = resolveOptions(options)
    const topicLimits: TopicLimits = { maxLength: resolved.maxTopicLength, maxLevels: resolved.maxTopicLevels }
    const core: BrokerCore = {
      id: this.id,
      options: resolved,
      topicLimits,
      logger: options.logger ?? silentLogger,
      persistence: options.persistence ?? new MemoryPersistence(),
      router: new Router(resolved.matchCacheSize),
      hooks: createHookChains(options.hooks),
      stats: new BrokerStats(),
      keepalive: new KeepaliveSweep(),
      events: this,
      closing: false,
      cluster: options.cluster,
      nextMessageId: createMessageIds(this.id),
    }
    // Built in dependency order: routing looks sessions up in the registry, wills are routed, the manager hands
    // wills over as connections end, recovery re-arms through the manager what the store or a dead node left.
    const registry = new SessionRegistry(core)
    const distributor = new Distributor(core, registry, new SharedGroups(options.sharedSubscriptionStrategy))
    const wills = new Wills(core, distributor)
    const sessions = new SessionManager(core, registry, wills)
    const recovery = new SessionRecovery(core, registry, sessions, wills)
    // An 'error' event with no listener would throw: the broker reports, it never crashes its host.
    this.on('error', () => {})
    const cluster = options.cluster
    const joined = cluster ? cluster.start(clusterHandlers(core, { sessions, recovery, distributor })) : Promise.resolve()
    this.readyPromise = joined.then(() => recovery.restore()).then(
      () => {
        this.sys.start()
        ctx.started = true
      },
      (error: unknown) => {
        const err = error instanceof Error ? error : new Error(String(error))
        ctx.logger.error({ err }, 'could not restore persisted state')
        throw err
      },
    )
    this.readyPromise.catch(() => {})
    const ctx: BrokerContext = Object.assign(core, { sessions, distributor, ready: this.readyPromise, started: false })
    this.ctx = ctx
    this.handlers = packetHandlers(ctx)
    this.admin = new BrokerAdmin(ctx)
    this.sys = new SysTopics(ctx)
  }

  /** Resolves once persisted state (subscriptions, sessions, orphaned wills) is loaded. */
  ready(): Promise<void> {
    return this.readyPromise
  }

  get persistence(): Persistence {
    return this.ctx.persistence
  }

  get logger(): Logger {
    return this.ctx.logger
  }

  get connectedClients(): number {
    return this.ctx.sessions.connectedCount
  }

  get stats(): Readonly<BrokerStats> {
    return this.ctx.stats
  }

  /** Takes one client stream (TCP, TLS, WebSocket stream, in-memory duplex): the broker owns it from here. */
  handle(stream: Duplex, meta: ConnectionMeta = NO_META): void {
    if (this.ctx.closing) {
      stream.destroy()
      return
    }
    // Writes are already batched per tick (cork/uncork): Nagle's algorithm would only add delay on top.
    const socket = stream as Duplex & { setNoDelay?: (noDelay: boolean) => unknown }
    if (typeof socket.setNoDelay === 'function') socket.setNoDelay(true)
    this.ctx.stats.connectionOpened(meta.transport ?? 'unknown')
    const connection = new Connection(this.ctx, stream, meta, this.handlers, this.onConnectionClosed)
    this.connections.add(connection)
    if (!this.ctx.started) this.readyPromise.catch(() => connection.close('broker-not-ready'))
  }

  private readonly onConnectionClosed = (connection: Connection): void => {
    this.connections.delete(connection)
    this.ctx.sessions.closed(connection)
  }

  /**
   * Publishes from the host application; resolves once the message is routed and stored as needed, and, when it
   * filled a connected subscriber's queue, once that subscriber has room again: awaiting each publish keeps the
   * host at its subscribers' pace, as a client's publishes are.
   */
  publish(input: PublishInput): Promise<void> {
    const problem = topicNameProblem(input.topic, this.ctx.topicLimits)
    if (problem) return Promise.reject(new UsageError(ErrorCode.TopicNameInvalid, `'${input.topic}': ${problem}`))
    const message = createMessage(input.topic, toBuffer(input.payload), input.qos ?? 0, input.retain === true, messageProperties(input.properties), undefined)
    return new Promise((resolve, reject) => {
      const wait = new HostPublish(resolve)
      const stored = this.ctx.distributor.route(message, null, wait)
      if (stored === null) wait.routed()
      else stored.then(() => wait.routed(), reject)
    })
  }

  /** Listens in-process to messages matching `filter`; returns the function that stops listening. */
  subscribe(filter: string, listener: (message: Message) => void): () => void {
    const problem = topicFilterProblem(filter, this.ctx.topicLimits)
    if (problem) throw new UsageError(ErrorCode.TopicFilterInvalid, `'${filter}': ${problem}`)
    if (isSharedFilter(filter)) throw new UsageError(ErrorCode.TopicFilterInvalid, `'${filter}': in-process listeners cannot join shared subscription groups`)
    return this.ctx.router.listen(filter, listener)
  }

  /** Adds a hook to its chain at run time (after those given in options). */
  addHook<K extends HookName>(name: K, hook: Hooks[K]): void {
    addHook(this.ctx.hooks as HookChains, name, hook)
  }

  /** Connected clients, as hooks see them. */
  clients(): ClientInfo[] {
    return [...this.ctx.sessions.online.values()].map((connection) => connection.client)
  }

  /**
   * Ends every client (v5: DISCONNECT 0x8B, server shutting down), lets persistent sessions' state reach
   * the store, then closes the persistence adapter. Safe to call more than once.
   */
  close(): Promise<void> {
    this.closePromise ??= this.shutdown()
    return this.closePromise
  }

  private async shutdown(): Promise<void> {
    this.ctx.closing = true
    this.sys.stop()
    await this.readyPromise.catch(() => {})
    // With a serverReference configured, v5 clients are told where to reconnect (0x9C) rather than just "shutting down".
    const code = this.ctx.options.serverReference !== '' ? ReasonCode.UseAnotherServer : ReasonCode.ServerShuttingDown
    for (const connection of [...this.connections]) connection.close('broker-closing', code)
    this.ctx.sessions.stop()
    await this.ctx.sessions.flushAll()
    await this.ctx.cluster?.stop()
    await this.ctx.persistence.close()
  }
}

/** A host publish as a publisher that subscribers can hold back: its promise waits for them. */
class HostPublish implements Holdable {
  private holds = 0
  private done = false

  constructor(private readonly resolve: () => void) {}

  hold(): void {
    this.holds++
  }

  release(): void {
    if (--this.holds === 0 && this.done) this.resolve()
  }

  routed(): void {
    this.done = true
    if (this.holds === 0) this.resolve()
  }
}

export function createBroker(options?: BrokerOptions): Broker {
  return new Broker(options)
}

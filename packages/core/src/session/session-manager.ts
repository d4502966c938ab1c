import type { Connection } from '../connection/connection.js'
import { type BrokerCore, reportStoreError } from '../core.js'
import { ReasonCode } from '../errors.js'
import { MemoryPersistence } from '../persistence/memory.js'
import type { ProtocolVersion } from '../types.js'
import { ClientLocks } from './client-locks.js'
import { ClientTimers } from './client-timers.js'
import type { OfflineTally } from './offline-tally.js'
import { Session, type SessionLimits } from './session.js'
import type { SessionRegistry } from './session-registry.js'
import { SessionStore } from './session-store.js'
import { deleteStoredSession, dropSubscriptions } from './stored-session.js'
import type { Wills } from './wills.js'

export interface OpenRequest {
  clientId: string
  /** 3.1.1 clean session / 5.0 clean start: discard any existing session. */
  clean: boolean
  /** Seconds; 0 ends the session with the connection, 0xFFFFFFFF never expires. */
  expiryInterval: number
  protocolVersion: ProtocolVersion
}

/** The session expiry interval that means "never expires". */
const NEVER = 0xffffffff

/**
 * Owns sessions over their lifetime: creating, resuming and taking them over on CONNECT, keeping or
 * ending them when the connection goes (handing the will to `Wills`), expiring offline ones, and letting a client go
 * to the cluster node that takes it over. Live sessions are in memory (`SessionRegistry`); an offline persistent
 * session lives only in the persistence adapter. Sessions found in the store at start or left by a dead node are
 * `SessionRecovery`'s.
 */
export class SessionManager {
  /** Connected clients by client id. */
  readonly online: Map<string, Connection>
  private readonly sessions: Map<string, Session>
  private readonly expiry = new ClientTimers()
  private readonly flushing = new Map<string, Promise<void>>()
  private readonly locks = new ClientLocks()
  /** Clients whose store queue a pick-up will read once it has the client's lock: a notice meanwhile adds nothing. */
  private readonly pickUpsDue = new Set<string>()

  /** One object for every session: the options do not change while the broker runs. */
  private readonly sessionLimits: SessionLimits
  constructor(
    private readonly ctx: BrokerCore,
    private readonly registry: SessionRegistry,
    private readonly wills: Wills,
  ) {
    this.online = registry.online
    this.sessions = registry.sessions
    this.sessionLimits = { maxQueued: ctx.options.maxQueued, queueFullPolicy: ctx.options.queueFullPolicy }
    registry.pickUp = (clientId) => void this.pickUpQueued(clientId)
  }

  isOnline(clientId: string): boolean {
    return this.registry.isOnline(clientId)
  }

  /** Offline sessions held here and their store queues, for the gauges. */
  get offline(): OfflineTally {
    return this.registry.offline
  }

  get connectedCount(): number {
    return this.online.size
  }

  /** Runs `task` after every earlier task for the same client id: two CONNECTs for one id never interleave. */
  exclusive<T>(clientId: string, task: () => Promise<T>): Promise<T> {
    return this.locks.run(clientId, task)
  }

  /** Creates or resumes the session for an accepted CONNECT; returns whether one was present. */
  async open(connection: Connection, request: OpenRequest): Promise<{ session: Session; present: boolean }> {
    const opening = this.registry.opening
    opening.add(request.clientId)
    try {
      return await this.openSession(connection, request)
    } finally {
      opening.delete(request.clientId)
    }
  }

  private async openSession(connection: Connection, request: OpenRequest): Promise<{ session: Session; present: boolean }> {
    const { clientId } = request
    const persistence = this.ctx.persistence
    this.takeOver(connection, clientId)
    // Across nodes: the node holding the client lets go (and flushes its state) before we read the store.
    if (this.ctx.cluster) await this.ctx.cluster.claim(clientId)
    this.forgetOffline(clientId)
    const flushing = this.flushing.get(clientId)
    if (flushing) await flushing

    let session = this.sessions.get(clientId)
    let present = false
    // [MQTT-3.1.2-6] a live session that was to end with its connection (clean, expiry 0) ended when that
    // connection was taken over: nothing of it is resumed, whatever this CONNECT asks
    if (request.clean || (session !== undefined && !session.persistent)) {
      if (session) dropSubscriptions(this.ctx, session.clientId, session.filters())
      session = undefined
      if (await persistence.sessionGet(clientId)) await deleteStoredSession(this.ctx, clientId)
    } else if (session) {
      present = true
    } else if (await persistence.sessionGet(clientId)) {
      session = this.newSession(request)
      for (const subscription of await persistence.subscriptionsGet(clientId)) {
        session.subscribe(subscription)
      }
      session.restore(await persistence.outboundList(clientId))
      session.restoredFromStore = true
      present = true
    }
    session ??= this.newSession(request)
    session.expiryInterval = request.expiryInterval
    session.protocolVersion = request.protocolVersion
    if (session.persistent) {
      session.store ??= new SessionStore(persistence, clientId, (error) => this.storeError(error))
      await persistence.sessionSave({
        clientId,
        protocolVersion: request.protocolVersion,
        expiryInterval: request.expiryInterval,
        brokerId: this.ctx.id,
      })
    } else if (this.ctx.cluster) {
      // In a cluster every session is recorded, so that other nodes (and nodes started later) know its subscriptions.
      session.store = null
      await persistence.sessionSave({ clientId, protocolVersion: request.protocolVersion, expiryInterval: 0, brokerId: this.ctx.id })
    } else if (present && session.store) {
      // Resumed a stored session with expiry 0: it now ends with this connection, so the copy goes.
      session.store = null
      await persistence.sessionDelete(clientId)
    }
    this.attach(connection, session)
    return { session, present }
  }

  /**
   * `open` without a promise, for the connect that has nothing to wait for: a session that ends with its
   * connection, the memory store holding no record of the client, no cluster, no other CONNECT of the client
   * id under way (`exclusive`) and no write of its last session in flight. Null when any of that does not
   * hold: `open`, inside `exclusive`, is the way then.
   */
  openNow(connection: Connection, request: OpenRequest): Session | null {
    const { clientId } = request
    const persistence = this.ctx.persistence
    if (!request.clean || request.expiryInterval !== 0 || this.ctx.cluster || this.locks.held(clientId) || this.flushing.has(clientId)) return null
    if (!(persistence instanceof MemoryPersistence) || persistence.holdsSession(clientId)) return null
    this.takeOver(connection, clientId)
    this.forgetOffline(clientId)
    const live = this.sessions.get(clientId)
    // [MQTT-3.1.2-6] nothing of a live session is resumed by a clean start
    if (live) dropSubscriptions(this.ctx, clientId, live.filters())
    const session = this.newSession(request)
    this.attach(connection, session)
    return session
  }

  /** [MQTT-3.1.4-2] a connection already open for the client id is closed; it keeps its will semantics (published unless delayed). */
  private takeOver(connection: Connection, clientId: string): void {
    const previous = this.online.get(clientId)
    if (!previous || previous === connection) return
    // Until the new connection resumes the session, messages for it wait in its queue.
    previous.session?.detach()
    previous.session = null
    this.online.delete(clientId)
    previous.close('taken-over', ReasonCode.SessionTakenOver)
  }

  /** The client is back: its expiry, its offline tally and a delayed will it left end here. */
  private forgetOffline(clientId: string): void {
    this.expiry.clear(clientId)
    this.offline.remove(clientId)
    // [MQTT-3.1.2-8] a new connection for the client id within the will delay cancels the will, whether or
    // not it starts clean
    this.wills.cancel(clientId)
  }

  private attach(connection: Connection, session: Session): void {
    const action = this.ctx.options.fullQueueAction
    session.fullQueueAction = typeof action === 'function' ? action(connection.client) : action
    this.sessions.set(session.clientId, session)
    this.online.set(session.clientId, connection)
    connection.session = session
  }

  private newSession(request: OpenRequest): Session {
    return new Session(
      request.clientId,
      request.protocolVersion,
      request.expiryInterval,
      this.sessionLimits,
      this.ctx.stats,
    )
  }

  /** Called once per connection when it closes, whatever the reason. */
  closed(connection: Connection): void {
    const clientId = connection.client.id
    const wasOnline = clientId !== '' && this.online.get(clientId) === connection
    if (wasOnline) {
      this.online.delete(clientId)
      this.ctx.cluster?.disown(clientId)
    }
    const session = connection.session
    connection.session = null
    // Seconds the session outlives the connection by; null when it ends with it.
    let keptFor: number | null = null
    if (session) {
      session.detach()
      this.sessions.delete(clientId)
      if (session.persistent) {
        keptFor = session.expiryInterval
        this.keepOffline(session)
      } else {
        dropSubscriptions(this.ctx, clientId, session.filters())
        // Persistent until now (v5 DISCONNECT set expiry 0), or recorded for the cluster: the stored copy ends with it,
        // before another node taking the client over reads the store.
        if (session.store || this.ctx.cluster) this.track(clientId, this.ctx.persistence.sessionDelete(clientId))
      }
    }
    const will = connection.will
    if (will) this.wills.connectionEnded(clientId, will, connection.graceful, connection.willDelayInterval, keptFor)
    if (connection.wasConnected) {
      this.ctx.stats.clientsConnected--
      this.ctx.events.emit('clientDisconnected', connection.client, connection.reason, connection.goodbyeProperties)
    }
  }

  private keepOffline(session: Session): void {
    const clientId = session.clientId
    const record = {
      clientId,
      protocolVersion: session.protocolVersion,
      expiryInterval: session.expiryInterval,
      disconnectedAt: Date.now(),
      brokerId: this.ctx.id,
    }
    const flushed = (session.store ? session.store.flushed() : Promise.resolve()).then(() => this.ctx.persistence.sessionSave(record))
    this.track(clientId, flushed)
    this.offline.wentOffline(clientId, [...session.inflight.values(), ...session.pending])
    this.expireAfter(clientId, session.expiryInterval * 1000)
  }

  /** Remembers a store write that a resumption of `clientId` (here or on another node) must wait for. */
  private track(clientId: string, write: Promise<unknown>): void {
    const done = write.then(
      () => undefined,
      (error: unknown) => this.storeError(error),
    )
    this.flushing.set(clientId, done)
    void done.then(() => {
      if (this.flushing.get(clientId) === done) this.flushing.delete(clientId)
    })
  }

  /** Arms an offline session's expiry: after `inMs` it is discarded, unless its client comes back first. */
  expireAfter(clientId: string, inMs: number): void {
    if (inMs >= NEVER * 1000) return
    this.expiry.set(clientId, inMs, () => void this.expire(clientId))
  }

  /** The session's time is up: its state goes, and a will still waiting on its delay is published now. */
  private expire(clientId: string): Promise<void> {
    return this.discard(clientId).then(
      () => undefined,
      (error: unknown) => this.storeError(error),
    )
  }

  /**
   * Ends an offline session now (expired, or deleted by an operator): subscriptions, queue and stored state go,
   * a will still waiting on its delay is published. Resolves false when the client is online or had no session.
   */
  discard(clientId: string): Promise<boolean> {
    return this.exclusive(clientId, async () => {
      this.offline.remove(clientId)
      if (this.isOnline(clientId)) return false
      this.expiry.clear(clientId)
      this.wills.publishNow(clientId)
      const existed = (await this.ctx.persistence.sessionGet(clientId)) !== undefined
      await deleteStoredSession(this.ctx, clientId)
      return existed
    })
  }

  /** Cluster: another node took `clientId` over; the local connection goes and its state reaches the store. */
  async release(clientId: string): Promise<void> {
    this.online.get(clientId)?.close('taken-over', ReasonCode.SessionTakenOver)
    await this.flushing.get(clientId)
  }

  /**
   * Cluster: another node queued messages in the store for `clientId`, connected here. Its session reads the store
   * queue and sends on what it does not have, under the client id's lock, so that a resumption under way (which may
   * or may not have read them) finishes first. A client gone meanwhile finds them in the store when it resumes.
   */
  pickUpQueued(clientId: string): Promise<void> {
    if (this.pickUpsDue.has(clientId)) return Promise.resolve()
    this.pickUpsDue.add(clientId)
    return this.exclusive(clientId, async () => {
      this.pickUpsDue.delete(clientId)
      const session = this.sessions.get(clientId)
      if (session === undefined || session.link === null || session.store === null) return
      session.watchFinished()
      // The read must see every write this session issued before it (a pooled store applies them one by one).
      await session.store.flushed()
      const adopted = session.adoptQueued(await this.ctx.persistence.outboundList(clientId))
      if (adopted > 0) this.ctx.logger.debug({ clientId, messages: adopted }, 'messages queued in the store after the session read it: sent on')
    }).catch((error: unknown) => this.storeError(error))
  }

  /** Broker shutdown: every timer goes, so the process can exit. */
  stop(): void {
    this.expiry.clearAll()
    this.wills.stop()
  }

  async flushAll(): Promise<void> {
    await Promise.all(this.flushing.values())
  }

  private storeError(error: unknown): void {
    reportStoreError(this.ctx, error)
  }
}

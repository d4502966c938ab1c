import type { Packet } from 'mqtt-packet'
import { type DisconnectReason, ReasonCode } from '../errors.js'
import { Deque } from '../session/deque.js'
import type { Holdable, Session } from '../session/session.js'
import { callLater } from './deferred-call.js'
import { InboundQuota } from './inbound-quota.js'
import { Transport } from './transport.js'

/**
 * Publishers let go together take turns, one PUBLISH each per round, all in one tick: the first one released must
 * not take all the room a subscriber made while the others stay held, and the writes of a round stay batched.
 */
const turns: DeliveryPolicy[] = []
let turnsQueued = false

function queueTurn(connection: DeliveryPolicy): void {
  turns.push(connection)
  if (turnsQueued) return
  turnsQueued = true
  process.nextTick(serveTurns)
}

function serveTurns(): void {
  for (let i = 0; i < turns.length; i++) {
    const connection = turns[i] as DeliveryPolicy
    if (connection.takeTurn()) turns.push(connection)
  }
  turns.length = 0
  turnsQueued = false
}

/**
 * What a held publisher may still send: answers to the broker's own deliveries. Holding them back could leave two
 * clients that publish to each other each waiting for the other's acknowledgements.
 */
const ANSWERS = new Set(['puback', 'pubrec', 'pubcomp', 'pingreq'])

/** How many packets may wait behind one that is being handled asynchronously before reading pauses. */
const BACKLOG_PAUSE = 256

/**
 * When a connection's packets may be handled, and what it does when it cannot keep up: packets handled one at a
 * time in arrival order, publishers held back by full subscriber queues and let go in turns, the per-client
 * publish rate, the broker's Receive Maximum, and a congested socket (QoS 0 shed, a client making no progress
 * disconnected). Handling a packet is the protocol layer's `dispatch` (connection.ts).
 */
export abstract class DeliveryPolicy extends Transport implements Holdable {
  abstract readonly client: { readonly id: string }
  abstract session: Session | null
  private quota: InboundQuota | null = null
  /** The socket's buffer is over `maxSocketBuffer`: QoS 0 is dropped and QoS 1/2 waits. */
  congested = false
  /** Congested for longer than `qos0HoldTime`: QoS 0 for this client is dropped rather than holding publishers. */
  shedding = false
  /** Watches a client that is congested or holds publishers: no progress for `drainTimeout` closes it. */
  private progressTimer: NodeJS.Timeout | null = null
  private sheddingTimer: NodeJS.Timeout | null = null
  /** Acks plus bytes that left the socket buffer when the progress timer was armed. */
  private progressMark = 0
  /** Sessions holding this connection back as a publisher: no PUBLISH is handled while above 0. */
  private holds = 0
  private drainWaiters: Array<() => void> | null = null
  /** Packets that arrived while an earlier one was still being handled; created on first need. */
  private backlog: Deque<Packet> | null = null
  private busy = false
  /** Released with other held publishers: its waiting PUBLISHes go one per turn until its backlog is empty. */
  private takingTurns = false
  private inTurn = false
  private paused = false
  private throttled = false
  private rateWindowStart = 0
  private rateCount = 0

  /** QoS 1/2 publishes received whose exchange has not ended (the broker's Receive Maximum); created on the first. */
  get inboundQuota(): InboundQuota {
    return (this.quota ??= new InboundQuota(this.ctx.options.receiveMaximum))
  }

  /** Handles one packet now; it calls `onHandled` when done. */
  protected abstract dispatch(packet: Packet): void
  abstract close(reason: DisconnectReason, reasonCode?: number, reasonString?: string): void

  /** A packet that arrived: handled now, or queued behind the one in progress, a hold or the rate limit. */
  protected admit(packet: Packet): void {
    if (this.busy || this.throttled || this.holds > 0 || this.takingTurns) {
      if (!this.busy && !this.throttled && ANSWERS.has(packet.cmd)) {
        this.dispatch(packet)
        return
      }
      const backlog = (this.backlog ??= new Deque())
      backlog.push(packet)
      if (!this.paused && backlog.length >= BACKLOG_PAUSE) {
        this.paused = true
        this.stream.pause()
        if (this.holds > 0) this.session?.releasePublishers()
      }
      return
    }
    this.dispatch(packet)
  }

  /** A packet's handling starts: the next one waits for `onHandled`. */
  protected startHandling(): void {
    this.busy = true
  }

  /** Called when a handler is done: the next packet waits until then, which keeps per-client order. */
  protected readonly onHandled = (): void => {
    this.busy = false
    if (!this.takingTurns) this.drainBacklog()
    else if (!this.inTurn) queueTurn(this)
  }

  /**
   * Per-client publish rate: the PUBLISH that uses up the current one-second window's budget is the last
   * one handled in it; what follows (already read or not) waits for the next window.
   */
  protected countPublish(): void {
    const now = Date.now()
    if (now - this.rateWindowStart >= 1000) {
      this.rateWindowStart = now
      this.rateCount = 0
    }
    if (++this.rateCount < this.ctx.options.maxPublishRate) return
    this.throttled = true
    this.stream.pause()
    callLater(1000 - (now - this.rateWindowStart), this, 'endThrottle').unref()
  }

  endThrottle(): void {
    this.throttled = false
    if (this.state === 'closed') return
    if (this.takingTurns) queueTurn(this)
    else this.drainBacklog()
  }

  /** Whether the next waiting packet may be handled now: nothing in progress, not throttled, held or closed. */
  private get canHandle(): boolean {
    return !this.busy && !this.throttled && this.holds === 0 && this.state !== 'closed'
  }

  private drainBacklog(): void {
    const backlog = this.backlog
    if (backlog) {
      while (this.canHandle && backlog.length > 0) this.dispatch(backlog.shift() as Packet)
    }
    if (!this.canHandle) return
    if (this.paused || this.stream.isPaused()) {
      this.paused = false
      this.stream.resume()
    }
  }

  /** Holdable: a subscriber's full queue holds this publisher; PUBLISH packets wait until it is released. */
  hold(): void {
    if (++this.holds === 1 && this.paused) this.session?.releasePublishers()
  }

  get heldBack(): boolean {
    return this.holds > 0 && this.paused
  }

  release(): void {
    if (this.holds === 0) return
    // Resumed on the next tick: a release comes from inside another client's packet, and every publisher let go
    // at once then gets its turn in order rather than one of them refilling the queue first.
    if (--this.holds === 0 && this.state !== 'closed') {
      this.takingTurns = true
      queueTurn(this)
    }
  }

  /** One turn: waiting packets up to and including one PUBLISH; true while it has more for another round. */
  takeTurn(): boolean {
    const backlog = this.backlog
    this.inTurn = true
    while (this.canHandle && backlog !== null && backlog.length > 0) {
      const packet = backlog.shift() as Packet
      this.dispatch(packet)
      if (packet.cmd === 'publish') break
    }
    this.inTurn = false
    if (!this.canHandle) return false
    if (backlog !== null && backlog.length > 0) return true
    this.takingTurns = false
    this.drainBacklog()
    return false
  }

  /** Resolves when the socket has drained (or the connection closed). */
  drained(): Promise<void> {
    if (!this.congested || this.state === 'closed') return Promise.resolve()
    return new Promise((resolve) => (this.drainWaiters ??= []).push(resolve))
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters
    this.drainWaiters = null
    if (waiters) for (const resolve of waiters) resolve()
  }

  override onDrain(): void {
    this.releaseDrainWaiters()
    if (!this.congested) return
    this.congested = false
    this.shedding = false
    if (this.sheddingTimer) {
      clearTimeout(this.sheddingTimer)
      this.sheddingTimer = null
    }
    this.session?.drain()
  }

  get takesQos0(): boolean {
    return !this.congested || (!this.shedding && this.stream.writableLength < 2 * this.ctx.options.maxSocketBuffer)
  }

  protected override becomeCongested(): void {
    if (this.congested) return
    this.congested = true
    this.watchProgress()
    this.sheddingTimer = callLater(this.ctx.options.qos0HoldTime, this, 'startShedding')
    this.sheddingTimer.unref()
  }

  /** Congested for the whole QoS 0 hold: publishers go on, and QoS 0 for this client is dropped until it drains. */
  startShedding(): void {
    this.sheddingTimer = null
    if (!this.congested || this.state === 'closed') return
    this.shedding = true
    this.session?.releasePublishers()
  }

  /** SessionLink: arms the progress watch, once, while this client is congested or holds publishers back. */
  watchProgress(): void {
    if (this.progressTimer !== null || this.state === 'closed') return
    this.progressMark = this.progressCount()
    this.progressTimer = callLater(this.ctx.options.drainTimeout, this, 'checkProgress')
    this.progressTimer.unref()
  }

  /** Acknowledgements received plus bytes the client has read off the socket: grows while it makes progress. */
  private progressCount(): number {
    return (this.session?.progress ?? 0) + this.bytesTaken
  }

  /**
   * A client that is behind (congested, or holding publishers) and has neither acknowledged anything nor read a
   * byte for `drainTimeout` is stuck: it must not hold memory or other clients hostage, so it is disconnected.
   */
  checkProgress(): void {
    this.progressTimer = null
    if (this.state === 'closed') return
    if (!this.congested && this.session?.holding !== true) return
    if (this.progressCount() !== this.progressMark) {
      this.watchProgress()
      return
    }
    this.ctx.logger.warn({ clientId: this.client.id, buffered: this.stream.writableLength, queued: this.session?.queuedCount }, 'slow consumer made no progress: disconnected')
    this.close('slow-consumer', ReasonCode.QuotaExceeded)
  }

  /** The connection closed: nothing waits any more, and no timer of this layer fires. */
  protected stopDelivery(): void {
    if (this.progressTimer) clearTimeout(this.progressTimer)
    if (this.sheddingTimer) clearTimeout(this.sheddingTimer)
    this.backlog = null
    this.releaseDrainWaiters()
  }
}

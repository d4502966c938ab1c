import type { Holdable, RemoteDelivery } from '@wren/core'
import { holdFrame } from './frames.js'

/** Sends a control frame to a node's channel, without waiting. */
export type SendFrame = (nodeId: string, frame: Buffer) => void

/**
 * Holds publishers back across nodes as the core holds them on one node: a session that takes forwarded messages
 * over its bound tells the sending node, which holds each publisher whose next message is for that session until
 * the session has room again. Messages already on their way are kept over the bound, so a message acknowledged on
 * one node is never dropped because a queue on another was full, and the backlog stays at one hop's worth.
 * A stuck session stops holding anyone when the core disconnects it after `drainTimeout`, which sends "room".
 */
export class Backpressure {
  /** Per node: its sessions that are full, each with the publishers here held back for it. */
  private readonly full = new Map<string, Map<string, Set<Holdable>>>()
  /** Sessions here that hold another node's senders, while they do: key `<node>\n<clientId>`. */
  private readonly holding = new Map<string, Senders>()

  constructor(
    private readonly nodeId: string,
    private readonly send: SendFrame,
  ) {}

  /** Node `nodeId`'s publishers of messages for the local session `clientId`, as one publisher to hold. */
  senders(nodeId: string, clientId: string): Holdable {
    const key = `${nodeId}\n${clientId}`
    // Kept only while held: the same one again while it is, so that a session does not hold it twice.
    return this.holding.get(key) ?? new Senders(this, key, nodeId, clientId)
  }

  /** A forward to `nodeId` goes out: `publisher` waits if a session it is for is full there. */
  forwarded(nodeId: string, deliveries: readonly RemoteDelivery[], publisher: Holdable): void {
    const full = this.full.get(nodeId)
    if (full === undefined) return
    for (const delivery of deliveries) {
      const held = full.get(delivery.clientId)
      if (held !== undefined && !held.has(publisher)) {
        held.add(publisher)
        publisher.hold()
      }
    }
  }

  /** Node `nodeId` says its session `clientId` is full, or has room again. */
  remote(nodeId: string, clientId: string, isFull: boolean): void {
    let full = this.full.get(nodeId)
    if (isFull) {
      if (!full) this.full.set(nodeId, (full = new Map()))
      if (!full.has(clientId)) full.set(clientId, new Set())
      return
    }
    const held = full?.get(clientId)
    if (!full || !held) return
    full.delete(clientId)
    if (full.size === 0) this.full.delete(nodeId)
    for (const publisher of held) publisher.release()
  }

  /** Node `nodeId` is gone: none of its sessions holds anyone here. */
  forgetNode(nodeId: string): void {
    const full = this.full.get(nodeId)
    if (!full) return
    for (const clientId of [...full.keys()]) this.remote(nodeId, clientId, false)
  }

  /** Stopping, or this node lost its subscription (a "room" may have been missed): nobody waits any longer. */
  releaseAll(): void {
    for (const nodeId of [...this.full.keys()]) this.forgetNode(nodeId)
  }

  /** @internal a session here started or stopped holding `senders`. */
  signal(senders: Senders, isFull: boolean): void {
    if (isFull) this.holding.set(senders.key, senders)
    else this.holding.delete(senders.key)
    this.send(senders.nodeId, holdFrame({ n: this.nodeId, c: senders.clientId, h: isFull ? 1 : 0 }))
  }
}

/** A remote node's publishers as one `Holdable`: the first hold tells that node, the last release too. */
class Senders implements Holdable {
  private holds = 0

  constructor(
    private readonly owner: Backpressure,
    readonly key: string,
    readonly nodeId: string,
    readonly clientId: string,
  ) {}

  hold(): void {
    if (++this.holds === 1) this.owner.signal(this, true)
  }

  release(): void {
    if (this.holds === 0) return
    if (--this.holds === 0) this.owner.signal(this, false)
  }
}

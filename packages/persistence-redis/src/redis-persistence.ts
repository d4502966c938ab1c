import { type ChainableCommander, Redis, type RedisOptions } from 'ioredis'
import { topicMatches } from '@wren/core'
import type {
  ClientSubscriptions,
  Message,
  OutboundEntry,
  OutboundTarget,
  Persistence,
  QoS,
  SessionRecord,
  Subscription,
  WillRecord,
} from '@wren/core'
import { decodeMessage, decodeWill, encodeMessage, encodeWill, packMessage } from './envelope.js'
import { KeyLayout } from './keys.js'
import { PackedReply } from './packed-reply.js'
import { ScriptLoader } from './script-loader.js'
import { ALL_SCRIPTS, BATCH, type LuaScript, DELETE_RETAINED_IF_SAME, DELETE_SESSION, FORGET_IF_UNSUBSCRIBED, LIST, RETAINED_BYTES, STORE_RETAINED } from './scripts.js'
import { TickBatcher } from './tick-batcher.js'
import { MAX_BYTES_PER_BATCH, WriteBatch } from './write-batch.js'

export interface RedisPersistenceOptions {
  /** e.g. 'redis://127.0.0.1:6379/0'. */
  url?: string
  /** A client you own: the adapter uses it and leaves it open on `close()`. Consider `REDIS_CLIENT_DEFAULTS` for it. */
  redis?: Redis
  /** Options for a client the adapter creates (and quits on `close()`), on top of `REDIS_CLIENT_DEFAULTS`; with `url` too. */
  redisOptions?: RedisOptions
  /** Put before every key, so that several brokers or tenants can share one Redis. Default 'wren:'. */
  prefix?: string
  /**
   * About how many bytes of queue writes one batch script call carries before it is sent without waiting for the
   * turn to end. Default 16 MiB. A batch travels as one argument, which Redis refuses over its `proto-max-bulk-len`
   * (512 MB unless configured lower): keep this well under that, with room for one message.
   */
  maxBatchBytes?: number
}

/**
 * ioredis options for a client the adapter creates, so that an outage surfaces as errors instead of waits:
 * the broker then tells publishers (a v5 PUBACK/PUBREC with a failure code, a v3 connection closed without
 * an ack) rather than holding their messages for as long as Redis is away. ioredis' own defaults never time
 * out a command sent to a Redis that stopped answering, and keep commands queued through 20 reconnect attempts.
 */
export const REDIS_CLIENT_DEFAULTS = {
  /** A command without a reply after 5 s fails, whether it was sent or is waiting for a reconnect. */
  commandTimeout: 5000,
  /** Commands queued while disconnected fail after the first failed reconnect attempt, not the 20th. */
  maxRetriesPerRequest: 1,
} as const satisfies RedisOptions

/** How many topics one ZRANGEBYLEX or HMGET handles while matching retained messages. */
const RETAINED_BATCH = 1000

/** Per-client delivery options of a queued message; the message itself is stored once. */
interface Delivery {
  qos: QoS
  subscriptionIdentifiers?: number[]
  retain?: boolean
}

/** Runs a MULTI or pipeline and throws the first command error, which ioredis reports per reply. */
async function execAll(batch: ChainableCommander): Promise<unknown[]> {
  const replies = (await batch.exec()) ?? []
  return replies.map(([error, reply]) => {
    if (error) throw error
    return reply
  })
}

/**
 * The delivery JSON of a target without subscription identifiers, the common case, as `deliveryOf` would build
 * it: by QoS, then by retain unset, false or true.
 */
const PLAIN_DELIVERIES: readonly string[] = [0, 1, 2].flatMap((qos) => [undefined, false, true].map((retain) => JSON.stringify({ qos, retain })))

const PLAIN_BY_JSON = new Map<string, Delivery>(PLAIN_DELIVERIES.map((json) => [json, JSON.parse(json) as Delivery]))

/** What a queue stores per client for a message: its delivery options, as JSON. */
function deliveryOf(target: OutboundTarget): string {
  if (target.subscriptionIdentifiers === undefined) {
    return PLAIN_DELIVERIES[target.qos * 3 + (target.retain === undefined ? 0 : target.retain ? 2 : 1)] as string
  }
  const delivery: Delivery = { qos: target.qos, subscriptionIdentifiers: target.subscriptionIdentifiers }
  if (target.retain !== undefined) delivery.retain = target.retain
  return JSON.stringify(delivery)
}

/** The delivery options stored as `json`; the common ones (`PLAIN_DELIVERIES`) without parsing. */
function deliveryFrom(json: string): Delivery {
  return PLAIN_BY_JSON.get(json) ?? (JSON.parse(json) as Delivery)
}

function entryFrom(delivery: Delivery, inflight: string, message: Message): OutboundEntry {
  const entry: OutboundEntry = { message, qos: delivery.qos, state: 'queued' }
  if (inflight !== '') {
    entry.state = inflight.startsWith('r:') ? 'released' : 'sent'
    entry.packetId = Number(inflight.slice(2))
  }
  if (delivery.subscriptionIdentifiers !== undefined) entry.subscriptionIdentifiers = delivery.subscriptionIdentifiers
  if (delivery.retain !== undefined) entry.retain = delivery.retain
  return entry
}

/**
 * State in Redis under one key prefix, laid out so that no hot path scans: index sets and hashes name what
 * exists, Lua scripts make each read-then-write atomic, and a publish to many offline clients is one EVALSHA.
 * Scripts build message keys from ids, so this runs on a single Redis (with replicas or Sentinel), not Redis Cluster.
 */
export class RedisPersistence implements Persistence {
  /**
   * Every call's writes go out on one connection in call order: queue writes gathered into the turn's batch
   * (WriteBatch), which is sent before any other command, and no script is ever retried (ScriptLoader loads them
   * ahead), so Redis applies calls in the order they were made.
   */
  readonly appliesInCallOrder = true
  private readonly redis: Redis
  private readonly ownsClient: boolean
  private readonly keys: KeyLayout
  private readonly scripts: ScriptLoader
  private readonly batcher: TickBatcher
  private readonly writes: WriteBatch

  constructor(options: RedisPersistenceOptions = {}) {
    if (options.maxBatchBytes !== undefined && !(options.maxBatchBytes > 0)) throw new RangeError('maxBatchBytes must be a positive number of bytes')
    if (options.redis) {
      this.redis = options.redis
      this.ownsClient = false
    } else {
      const redisOptions = { ...REDIS_CLIENT_DEFAULTS, ...options.redisOptions }
      this.redis = options.url ? new Redis(options.url, redisOptions) : new Redis(redisOptions)
      this.ownsClient = true
    }
    this.keys = new KeyLayout(options.prefix ?? 'wren:')
    this.batcher = new TickBatcher(this.redis)
    this.scripts = new ScriptLoader(this.redis, ALL_SCRIPTS)
    const k = this.keys
    this.writes = new WriteBatch(
      [k.queuePrefix, k.deliveryPrefix, k.inflightPrefix, k.queueBytesPrefix, k.messagePrefix, k.sequence],
      (args) => {
        this.batcher.hold()
        return this.scripts.run(BATCH, [], args, false)
      },
      packMessage,
      deliveryOf,
      options.maxBatchBytes ?? MAX_BYTES_PER_BATCH,
    )
  }

  /** The client for the next command, which then joins the tick's batch behind the queue writes made before it. */
  private client(): Redis {
    this.writes.flush()
    this.batcher.hold()
    return this.redis
  }

  /** Runs a script in the tick's batch, behind the scripts' SCRIPT LOAD if this connection has not had it. */
  private script(script: LuaScript, keys: string[], args: Array<string | Buffer | number>, buffers = false): Promise<unknown> {
    this.writes.flush()
    this.batcher.hold()
    return this.scripts.run(script, keys, args, buffers)
  }

  async retainedStore(message: Message): Promise<void> {
    const k = this.keys
    await this.script(STORE_RETAINED, [k.retained, k.retainedTopics, k.retainedBytes], [message.topic, message.payload.length === 0 ? '' : encodeMessage(message)])
  }

  async retainedMatch(filter: string): Promise<Message[]> {
    const wildcard = filter.search(/[+#]/)
    const topics = wildcard === -1 ? [filter] : await this.retainedCandidates(filter, wildcard)
    if (topics.length === 0) return []
    const pipeline = this.client().pipeline()
    for (let i = 0; i < topics.length; i += RETAINED_BATCH) pipeline.hmgetBuffer(this.keys.retained, ...topics.slice(i, i + RETAINED_BATCH))
    const values = ((await execAll(pipeline)) as Array<Array<Buffer | null>>).flat()
    const now = Date.now()
    const found: Message[] = []
    const expired: Array<Promise<unknown>> = []
    values.forEach((value, i) => {
      if (!value) return
      const message = decodeMessage(value)
      if (message.expiresAt !== undefined && message.expiresAt < now) {
        expired.push(this.script(DELETE_RETAINED_IF_SAME, [this.keys.retained, this.keys.retainedTopics, this.keys.retainedBytes], [topics[i] as string, value]))
      } else {
        found.push(message)
      }
    })
    await Promise.all(expired)
    return found
  }

  /** Topics that match a wildcard filter, read from the lexicographic index by the filter's literal prefix. */
  private async retainedCandidates(filter: string, wildcard: number): Promise<string[]> {
    const prefix = filter.slice(0, wildcard)
    // Every topic in ['a/b/', 'a/b0') starts with 'a/b/' because '0' follows '/' in byte order.
    const max = prefix === '' ? '+' : `(${prefix.slice(0, -1)}0`
    let min = prefix === '' ? '-' : `[${prefix}`
    const matching: string[] = []
    // 'a/b/#' also matches 'a/b' itself [MQTT-4.7.1-2]
    if (prefix !== '' && filter.length === wildcard + 1 && filter.endsWith('#')) matching.push(prefix.slice(0, -1))
    for (;;) {
      const batch = await this.client().zrangebylex(this.keys.retainedTopics, min, max, 'LIMIT', 0, RETAINED_BATCH)
      for (const topic of batch) if (topicMatches(filter, topic)) matching.push(topic)
      if (batch.length < RETAINED_BATCH) return matching
      min = `(${batch[batch.length - 1] as string}`
    }
  }

  async retainedCount(): Promise<number> {
    return this.client().hlen(this.keys.retained)
  }

  async retainedBytes(): Promise<number> {
    return Number(await this.script(RETAINED_BYTES, [this.keys.retained, this.keys.retainedBytes], []))
  }

  async sessionSave(record: SessionRecord): Promise<void> {
    await this.client().hset(this.keys.sessions, record.clientId, JSON.stringify(record))
  }

  async sessionGet(clientId: string): Promise<SessionRecord | undefined> {
    const value = await this.client().hget(this.keys.sessions, clientId)
    return value === null ? undefined : (JSON.parse(value) as SessionRecord)
  }

  async sessionDelete(clientId: string): Promise<void> {
    const k = this.keys
    const keys = [k.sessions, k.subscriptions(clientId), k.incoming(clientId), k.subscribers, k.wills, ...this.queueKeys(clientId), k.sessionData(clientId)]
    await this.script(DELETE_SESSION, keys, [clientId, k.messagePrefix])
  }

  async sessionList(): Promise<SessionRecord[]> {
    const values = await this.client().hvals(this.keys.sessions)
    return values.map((value) => JSON.parse(value) as SessionRecord)
  }

  async sessionDataSet(clientId: string, key: string, value: string): Promise<void> {
    await this.client().hset(this.keys.sessionData(clientId), key, value)
  }

  async sessionDataGet(clientId: string, key: string): Promise<string | undefined> {
    return (await this.client().hget(this.keys.sessionData(clientId), key)) ?? undefined
  }

  async sessionCount(): Promise<number> {
    return this.client().hlen(this.keys.sessions)
  }

  async subscriptionsAdd(clientId: string, subscriptions: Subscription[]): Promise<void> {
    if (subscriptions.length === 0) return
    const fields: string[] = []
    for (const subscription of subscriptions) fields.push(subscription.filter, JSON.stringify(subscription))
    await execAll(this.client().multi().sadd(this.keys.subscribers, clientId).hset(this.keys.subscriptions(clientId), ...fields))
  }

  async subscriptionsRemove(clientId: string, filters: string[]): Promise<void> {
    if (filters.length === 0) return
    const k = this.keys
    // Sent together, not one after the other's reply, so that a call made meanwhile cannot come between them.
    await Promise.all([
      this.client().hdel(k.subscriptions(clientId), ...filters),
      this.script(FORGET_IF_UNSUBSCRIBED, [k.subscriptions(clientId), k.subscribers], [clientId]),
    ])
  }

  async subscriptionsGet(clientId: string): Promise<Subscription[]> {
    const values = await this.client().hvals(this.keys.subscriptions(clientId))
    return values.map((value) => JSON.parse(value) as Subscription)
  }

  async subscriptionsAll(): Promise<ClientSubscriptions[]> {
    const clientIds = await this.client().smembers(this.keys.subscribers)
    const pipeline = this.client().pipeline()
    for (const clientId of clientIds) pipeline.hvals(this.keys.subscriptions(clientId))
    const replies = (await execAll(pipeline)) as string[][]
    const all: ClientSubscriptions[] = []
    replies.forEach((values, i) => {
      const subscriptions = values.map((value) => JSON.parse(value) as Subscription)
      if (subscriptions.length > 0) all.push({ clientId: clientIds[i] as string, subscriptions })
    })
    return all
  }

  outboundEnqueue(targets: OutboundTarget[], message: Message, limit?: number, dropOldest = false, byteLimit?: number): Promise<string[]> {
    if (message.id === undefined) return Promise.reject(new TypeError('outboundEnqueue: message.id is required (the broker assigns it)'))
    if (targets.length === 0) return Promise.resolve([])
    return this.writes.enqueue(targets, message, limit ?? -1, dropOldest, byteLimit ?? -1)
  }

  outboundSent(clientId: string, messageId: string, packetId: number): Promise<void> {
    return this.writes.sent(clientId, messageId, packetId)
  }

  outboundReleased(clientId: string, packetId: number): Promise<void> {
    return this.writes.released(clientId, packetId)
  }

  outboundAck(clientId: string, packetId: number): Promise<void> {
    return this.writes.ack(clientId, packetId)
  }

  outboundRemove(clientId: string, messageId: string): Promise<void> {
    return this.writes.remove(clientId, messageId)
  }

  async outboundList(clientId: string): Promise<OutboundEntry[]> {
    const reply = new PackedReply((await this.script(LIST, this.queueKeys(clientId), [this.keys.messagePrefix], true)) as Buffer)
    const entries: OutboundEntry[] = []
    for (let i = 0; i < reply.length; i += 3) {
      const delivery = reply.string()
      const inflight = reply.string()
      reply.next()
      // A message key lost outside the adapter (eviction, manual delete) leaves nothing to resend.
      if (reply.start === reply.end) continue
      entries.push(entryFrom(deliveryFrom(delivery), inflight, decodeMessage(reply.buffer, reply.start, reply.end)))
    }
    return entries
  }

  async outboundCount(clientId: string): Promise<number> {
    return this.client().zcard(this.keys.queue(clientId))
  }

  private queueKeys(clientId: string): string[] {
    return [this.keys.queue(clientId), this.keys.delivery(clientId), this.keys.inflight(clientId), this.keys.queueBytes(clientId)]
  }

  async incomingAdd(clientId: string, packetId: number): Promise<void> {
    await this.client().sadd(this.keys.incoming(clientId), packetId)
  }

  async incomingHas(clientId: string, packetId: number): Promise<boolean> {
    return (await this.client().sismember(this.keys.incoming(clientId), packetId)) === 1
  }

  async incomingRemove(clientId: string, packetId: number): Promise<void> {
    await this.client().srem(this.keys.incoming(clientId), packetId)
  }

  async willPut(record: WillRecord): Promise<void> {
    await this.client().hset(this.keys.wills, record.clientId, encodeWill(record))
  }

  async willGet(clientId: string): Promise<WillRecord | undefined> {
    const value = await this.client().hgetBuffer(this.keys.wills, clientId)
    return value ? decodeWill(value) : undefined
  }

  async willDelete(clientId: string): Promise<void> {
    await this.client().hdel(this.keys.wills, clientId)
  }

  async willList(): Promise<WillRecord[]> {
    const values = await this.client().hvalsBuffer(this.keys.wills)
    return values.map(decodeWill)
  }

  async close(): Promise<void> {
    // Writes gathered this turn go out ahead of QUIT, which waits for their replies.
    this.writes.flush()
    this.scripts.detach()
    if (!this.ownsClient || this.redis.status === 'end') return
    // QUIT waits for replies to what is already sent; a client that is not connected has nothing to wait for.
    if (this.redis.status === 'ready') await this.redis.quit()
    else this.redis.disconnect()
  }
}

export function createRedisPersistence(options: RedisPersistenceOptions = {}): RedisPersistence {
  return new RedisPersistence(options)
}
